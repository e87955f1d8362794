// Notifications from acceptance to Telegram: the real API (both databases), the bot's delivery
// loop and pacer, and the Bot API stand-in, enforcing Telegram's flood limits where it matters.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test"
import { notifications, telegramLinks } from "@nps/db"
import { req } from "@nps/testing/api"
import { type BotApiStandIn, startBotApiStandIn } from "@nps/testing/stand-in"
import { eq } from "drizzle-orm"
import { Bot } from "gramio"
import { createBotMetrics } from "../src/metrics"
import { createDeliveryLoop } from "../src/outbound/delivery"
import { createPacer } from "../src/outbound/pacer"
import {
  captureLogs,
  DB_TIMEOUT,
  deferred,
  drivers,
  type Harness,
  inProcessApi,
  openRealApi,
  type RealApi,
  seedUser,
  startHarness,
  watched,
} from "./harness"

let nextChat = 910_000
let nextUser = 0

for (const driver of drivers()) {
  describe(`notification delivery [${driver}]`, () => {
    let clock: Date | undefined
    let realApi: RealApi
    let notifier: string
    let h: Harness | undefined
    let standIn: BotApiStandIn | undefined

    beforeAll(async () => {
      // The API's clock is real unless a test sets one (leases that must expire).
      realApi = await openRealApi(driver, { now: () => clock ?? new Date() })
      notifier = (await seedUser(realApi.db, { username: "alerts", scopes: ["telegram:notify"] }))
        .key
    }, DB_TIMEOUT)
    afterAll(async () => {
      await realApi.close()
    })
    afterEach(async () => {
      await h?.close()
      h = undefined
      await standIn?.close()
      standIn = undefined
      clock = undefined
      // Nothing a test left queued is delivered in the next one.
      await realApi.db.delete(notifications)
    })

    /** A user linked to the given chats (as the bot would have linked them). */
    const user = async (...chats: number[]) => {
      const seeded = await seedUser(realApi.db, { username: `reader${nextUser++}` })
      if (chats.length)
        await realApi.db
          .insert(telegramLinks)
          .values(chats.map((chatId) => ({ telegramChatId: chatId, userId: seeded.user.id })))
      return seeded
    }
    const notify = async (username: string, text: string, extra: object = {}) => {
      const res = await req(realApi.app, "POST", "/api/telegram/notifications", {
        token: notifier,
        body: { username, text, ...extra },
      })
      expect(res.status).toBeLessThan(300)
      return res.body as { id: string; deliveries: unknown[] }
    }
    const show = async (id: string) =>
      (
        await req(realApi.app, "GET", `/api/telegram/notifications/${id}`, {
          token: notifier,
        })
      ).body
    /** A started bot delivering notifications with Telegram's real limits. */
    const deliveringBot = async (
      options: Parameters<typeof startHarness>[0] & { watch?: ReturnType<typeof watched> } = {},
    ) => {
      const { watch = watched(realApi), ...rest } = options
      h = await startHarness({
        apiFactory: watch.factory,
        realApi,
        pacer: createPacer(),
        deliveries: { waitSeconds: 25 },
        ...rest,
      })
      return { h, watch }
    }
    const okTexts = (s: BotApiStandIn, chatId: number) =>
      s
        .sent(chatId)
        .filter((c) => c.status === 200)
        .map((c) => String(c.params.text))

    test("each linked chat gets the text once, exactly as given, as plain text", async () => {
      const [chat, group] = [nextChat++, -1_001_000_000_000 - nextChat++]
      const reader = await user(chat, group)
      const text =
        "Oracle alert: *not bold* _not italic_ [not](a link) <b>no html</b>\n\tline two 🔮 — “quotes” & ampersands"
      const { watch } = await deliveringBot()
      const n = await notify(reader.user.username, text)
      await watch.settledCount(2)
      for (const chatId of [chat, group]) {
        const calls = h?.standIn.sent(chatId) ?? []
        expect(calls.map((c) => c.status)).toEqual([200])
        expect(calls[0]?.params).toEqual({ chat_id: chatId, text })
      }
      const view = await show(n.id)
      expect(view.status).toBe("sent")
      expect(
        view.deliveries.map((d: { status: string; sent_at: string | null }) => [
          d.status,
          Boolean(d.sent_at),
        ]),
      ).toEqual([
        ["sent", true],
        ["sent", true],
      ])
      // The text never reaches a log line (it is the users' business), nor does the key.
      expect(h?.logs.text()).not.toContain("not italic")
      expect(h?.logs.text()).not.toContain(realApi.serviceKey)
    })

    test("the same idempotency key twice sends once", async () => {
      const chat = nextChat++
      const reader = await user(chat)
      const { watch } = await deliveringBot()
      const body = { idempotency_key: `daily-${chat}` }
      const first = await notify(reader.user.username, "Daily summary", body)
      const again = await notify(reader.user.username, "Daily summary", body)
      expect(again.id).toBe(first.id)
      await watch.settledCount(1)
      expect(okTexts(h?.standIn as BotApiStandIn, chat)).toEqual(["Daily summary"])
    })

    test("a chat that blocked the bot: failed with blocked, the chat marked blocked, nothing more sent there", async () => {
      const [blocked, fine] = [nextChat++, nextChat++]
      const reader = await user(blocked, fine)
      standIn = await startBotApiStandIn()
      // Telegram answers 403 there from now on; the bot has not heard of it yet.
      standIn.chat(blocked, { type: "private" })
      const a = await notify(reader.user.username, "first")
      const b = await notify(reader.user.username, "second")
      standIn.chatMember(blocked, "kicked")
      const metrics = createBotMetrics()
      const { watch } = await deliveringBot({ standIn, metrics })
      // "second" to the blocked chat fails with "first", unsent: three results in all.
      await watch.settledCount(3)
      // What an operator's dashboard shows of it.
      const scraped = await metrics.registry.metrics()
      expect(scraped).toContain('nps_bot_deliveries_total{outcome="sent",error=""} 2')
      expect(scraped).toContain('nps_bot_deliveries_total{outcome="failed",error="blocked"} 1')
      expect(scraped).toContain("nps_bot_outbound_waiting 0")
      expect(standIn.sent(blocked).filter((c) => c.status === 200)).toEqual([])
      expect(standIn.sent(blocked).filter((c) => c.status === 403)).toHaveLength(1)
      for (const id of [a.id, b.id])
        expect((await show(id)).deliveries).toEqual([
          // language: the one it was leased in, none when it never was.
          expect.objectContaining({
            telegram_chat_id: blocked,
            status: "failed",
            sent_at: null,
            error: "blocked",
          }),
          expect.objectContaining({ telegram_chat_id: fine, status: "sent" }),
        ])
      expect((await show(a.id)).status).toBe("partial")
      const [link] = await realApi.db
        .select()
        .from(telegramLinks)
        .where(eq(telegramLinks.telegramChatId, blocked))
      expect(link?.blockedAt).not.toBeNull()
      expect((await notify(reader.user.username, "third")).deliveries).toEqual([
        { telegram_chat_id: fine, status: "queued" },
      ])
    })

    test("a chat Telegram does not know fails with chat_not_found", async () => {
      const gone = nextChat++
      const reader = await user(gone)
      standIn = await startBotApiStandIn()
      standIn.chat(gone, { exists: false })
      const { watch } = await deliveringBot({ standIn })
      const n = await notify(reader.user.username, "anyone there?")
      await watch.settledCount(1)
      expect(await show(n.id)).toMatchObject({
        status: "failed",
        deliveries: [{ telegram_chat_id: gone, status: "failed", error: "chat_not_found" }],
      })
    })

    test("a group that became a supergroup: the message goes there and the link moves with it", async () => {
      const group = -4_100_000_000 - nextChat++
      const supergroup = -1_004_100_000_000 - nextChat++
      const reader = await user(group)
      standIn = await startBotApiStandIn()
      standIn.migrate(group, supergroup)
      const n = await notify(reader.user.username, "to the supergroup")
      const { watch } = await deliveringBot({ standIn })
      await watch.settledCount(1)
      expect(okTexts(standIn, supergroup)).toEqual(["to the supergroup"])
      expect(await show(n.id)).toMatchObject({
        status: "sent",
        deliveries: [{ telegram_chat_id: supergroup, status: "sent" }],
      })
      const [moved] = await realApi.db
        .select()
        .from(telegramLinks)
        .where(eq(telegramLinks.userId, reader.user.id))
      expect(moved?.telegramChatId).toBe(supergroup)
    })

    test("429, then success: sent once, after retry_after", async () => {
      const chat = nextChat++
      const reader = await user(chat)
      standIn = await startBotApiStandIn()
      standIn.fail("sendMessage", { status: 429, retryAfter: 1 })
      const { watch } = await deliveringBot({ standIn })
      const n = await notify(reader.user.username, "patience")
      await watch.settledCount(2)
      expect(standIn.sent(chat).map((c) => c.status)).toEqual([429, 200])
      expect(watch.reported.map((r) => r.outcome)).toEqual(["retry", "sent"])
      expect(watch.reported[0]?.retry_after_seconds).toBe(1)
      expect((await show(n.id)).status).toBe("sent")
    })

    test("a burst to many chats never trips Telegram's limits, and each chat's messages keep their order", async () => {
      standIn = await startBotApiStandIn({ floodLimits: true })
      const chats = Array.from({ length: 40 }, () => nextChat++)
      const busy = nextChat++
      const group = -1_005_000_000_000 - nextChat++
      const readers = await Promise.all(chats.map((c) => user(c)))
      const regular = await user(busy, group)
      const { watch } = await deliveringBot({ standIn })
      // Accepted in this order; delivered as fast as the limits allow.
      for (let i = 1; i <= 3; i++) await notify(regular.user.username, `update ${i}`)
      await Promise.all(readers.map((r, i) => notify(r.user.username, `hello ${i}`)))
      await watch.settledCount(40 + 6)
      expect(standIn.floodRefusals).toBe(0)
      expect(standIn.sent().filter((c) => c.status !== 200)).toEqual([])
      for (const chatId of [busy, group])
        expect(okTexts(standIn, chatId)).toEqual(["update 1", "update 2", "update 3"])
      chats.forEach((chatId, i) => {
        expect(okTexts(standIn as BotApiStandIn, chatId)).toEqual([`hello ${i}`])
      })
    })

    test("a command's reply goes out during a broadcast instead of after it", async () => {
      standIn = await startBotApiStandIn({ floodLimits: true })
      const chats = Array.from({ length: 120 }, () => nextChat++)
      const readers = await Promise.all(chats.map((c) => user(c)))
      const { watch } = await deliveringBot({ standIn })
      await Promise.all(readers.map((r) => notify(r.user.username, "broadcast")))
      const broadcastSent = () =>
        chats.filter((c) => okTexts(standIn as BotApiStandIn, c).length).length
      await standIn.waitForCall(
        "sendMessage",
        (c) => chats.includes(Number(c.params.chat_id)) && c.status === 200,
      )
      const [reply] = await standIn.say(nextChat++, "/help")
      expect(reply).toContain("/status")
      // The bot holds up to 100 deliveries waiting for their turn: a reply queued behind them
      // would come after most of the broadcast. It went ahead of them.
      expect(chats.length - broadcastSent()).toBeGreaterThanOrEqual(40)
      await watch.settledCount(chats.length)
      expect(standIn.floodRefusals).toBe(0)
    }, 20_000)

    test("a bot stopped mid-broadcast hands back what it held; the next bot delivers it, each message once", async () => {
      standIn = await startBotApiStandIn()
      const chats = Array.from({ length: 8 }, () => nextChat++)
      const readers = await Promise.all(chats.map((c) => user(c)))
      // The first send meets a long flood wait: every other send waits behind the pause.
      standIn.fail("sendMessage", { status: 429, retryAfter: 120 })
      const first = watched(realApi)
      await deliveringBot({ standIn, watch: first })
      for (const r of readers) await notify(r.user.username, "held")
      await first.settledCount(1) // the 429, reported for later
      await standIn.waitForCall("sendMessage", (c) => c.status === 429)
      await h?.close()
      h = undefined
      // The flooded one is kept for 120 s; what waited behind the pause was handed back at once.
      const outcomes = first.reported.map((r) => `${r.outcome} ${r.retry_after_seconds ?? ""}`)
      expect(outcomes.filter((o) => o === "retry 120")).toHaveLength(1)
      expect(outcomes.filter((o) => o === "retry 0").length).toBeGreaterThan(0)
      expect(outcomes.every((o) => ["retry 120", "retry 0", "sent "].includes(o))).toBe(true)
      const handedBack = outcomes.filter((o) => o === "retry 0").length

      const second = watched(realApi)
      await deliveringBot({ standIn, watch: second })
      // Handed back: leased again at once, not after the first bot's lease would have expired.
      await second.settledCount(handedBack)
      clock = new Date(Date.now() + 121_000)
      // The flooded one comes due on the API's clock (a waiting lease re-checks on its own);
      // the second bot sends whatever the first did not.
      await second.settledCount(chats.length - outcomes.filter((o) => o === "sent ").length)
      for (const chatId of chats) expect(okTexts(standIn, chatId)).toEqual(["held"])
    }, 20_000)

    test("two bots leasing at once keep each chat's messages in acceptance order", async () => {
      standIn = await startBotApiStandIn()
      const chats = [nextChat++, nextChat++, nextChat++]
      const readers = await Promise.all(chats.map((c) => user(c)))
      for (let i = 0; i < 6; i++) for (const r of readers) await notify(r.user.username, `#${i}`)
      const done = deferred()
      let reported = 0
      const logs = captureLogs()
      const loops = [0, 1].map(() => {
        const bot = new Bot(standIn?.token as string, {
          api: { baseURL: `${standIn?.url}/bot` },
        })
        const api = inProcessApi(realApi, logs.logger)
        return createDeliveryLoop({
          api: {
            lease: api.lease,
            report: async (results) => {
              const result = await api.report(results)
              if (result.kind === "ok") reported += result.applied
              if (reported >= 18) done.resolve()
              return result
            },
          },
          logger: logs.logger,
          capacity: 2,
          waitSeconds: 1,
          send: (chatId, message) => bot.api.sendMessage({ ...message, chat_id: chatId }),
        })
      })
      for (const loop of loops) loop.start()
      await done.promise
      await Promise.all(loops.map((loop) => loop.stop()))
      for (const chatId of chats)
        expect(okTexts(standIn, chatId)).toEqual(["#0", "#1", "#2", "#3", "#4", "#5"])
    })
  })
}
