// Paid broadcast from acceptance to Telegram: the real API (both databases), the bot's delivery
// loop and pacer, and the Bot API stand-in enforcing Telegram's limits — free 30 a second for
// messages without allow_paid_broadcast, 1,000 a second for all. With TELEGRAM_PAID_BROADCAST the
// broadcast goes beyond 30 a second without a single 429; when Telegram refuses to bill the bot,
// it says so once, shows it in /metrics, and every notification is still delivered.
import { afterEach, describe, expect, test } from "bun:test"
import { notifications, telegramLinks, users } from "@nps/db"
import { req } from "@nps/testing/api"
import { type BotApiStandIn, startBotApiStandIn } from "@nps/testing/stand-in"
import { createBotMetrics } from "../src/metrics"
import { broadcastLimits, createBroadcastMode } from "../src/outbound/broadcast"
import { createPacer, type PacerLimits } from "../src/outbound/pacer"
import { closeStores, openShared, redisStore } from "./budget-stores"
import {
  captureLogs,
  drivers,
  type Harness,
  realApiWithNotifier,
  startHarness,
  watched,
} from "./harness"

let nextChat = 7_310_000
let nextUser = 0

for (const driver of drivers()) {
  describe(`paid broadcast [${driver}]`, () => {
    const suite = realApiWithNotifier(driver, "paid-alerts")
    let standIn: BotApiStandIn | undefined
    const bots: Harness[] = []
    afterEach(async () => {
      for (const bot of bots.splice(0)) await bot.close()
      await closeStores()
      await standIn?.close()
      standIn = undefined
      await suite.realApi.db.delete(notifications)
    })

    /** `count` users with a chat each, and one notification accepted for each. */
    const broadcastTo = async (count: number) => {
      const chats = Array.from({ length: count }, () => nextChat++)
      // Straight into the tables: nobody logs in, so no password hashing to wait for.
      const people = await suite.realApi.db
        .insert(users)
        .values(chats.map(() => ({ username: `paying${nextUser++}`, passwordHash: "x" })))
        .returning({ id: users.id })
      await suite.realApi.db
        .insert(telegramLinks)
        .values(people.map((p, i) => ({ telegramChatId: chats[i] as number, userId: p.id })))
      const ids: string[] = []
      for (const [i, person] of people.entries()) {
        const res = await req(suite.realApi.app, "POST", "/api/telegram/notifications", {
          token: suite.notifier,
          body: { user_id: person.id, text: `daily reading for ${chats[i]}` },
        })
        expect(res.status).toBe(202)
        ids.push((res.body as { id: string }).id)
      }
      return { chats, ids }
    }

    /** A bot delivering with paid broadcast set as given. */
    const payingBot = async (
      paid: boolean,
      rate: number,
      given: BotApiStandIn,
      options: {
        shared?: { name: string; limits: PacerLimits }
        results?: ReturnType<typeof watched>
        capacity?: number
      } = {},
    ) => {
      const { shared, results = watched(suite.realApi), capacity } = options
      const logs = captureLogs()
      const broadcast = createBroadcastMode({ paid, rate, logger: logs.logger })
      const metrics = createBotMetrics()
      const bot = await startHarness({
        standIn: given,
        realApi: suite.realApi,
        apiFactory: results.factory,
        broadcast,
        metrics,
        pacer: shared
          ? createPacer({
              store: openShared(Date.now, { shared: shared.name }),
              limits: shared.limits,
            })
          : createPacer({ limits: () => broadcast.limits }),
        deliveries: { waitSeconds: 25, capacity },
        // Replicas take updates by webhook; here only their deliveries matter (no polling).
        ...(shared && { mode: "webhook" as const }),
      })
      bots.push(bot)
      return { broadcast, metrics, settled: results.settledCount, reported: results.reported, logs }
    }

    const statusOf = async (id: string) =>
      (
        await req(suite.realApi.app, "GET", `/api/telegram/notifications/${id}`, {
          token: suite.notifier,
        })
      ).body.status

    test("on: notifications carry allow_paid_broadcast and go beyond 30 a second with no 429; replies do not", async () => {
      standIn = await startBotApiStandIn({ floodLimits: true })
      const { chats } = await broadcastTo(100)
      const { metrics, settled } = await payingBot(true, 1_000, standIn)
      await standIn.waitForCall("sendMessage", (c) => chats.includes(Number(c.params.chat_id)))
      const [reply] = await standIn.say(nextChat++, "/help")
      expect(reply).toContain("/status")
      await settled(chats.length)

      const sent = standIn.sent().filter((c) => chats.includes(Number(c.params.chat_id)))
      expect(sent.map((c) => c.status).filter((s) => s !== 200)).toEqual([])
      expect(new Set(sent.map((c) => Number(c.params.chat_id))).size).toBe(chats.length)
      expect(sent.every((c) => c.params.allow_paid_broadcast === true)).toBe(true)
      const replies = standIn.sent().filter((c) => !chats.includes(Number(c.params.chat_id)))
      expect(replies.map((c) => c.params.allow_paid_broadcast)).toEqual([undefined])
      // Telegram's own count: more than the free 30 within one second, and never one too many.
      expect(standIn.busiest(1_000)).toBeGreaterThan(30)
      expect(standIn.floodRefusals).toBe(0)
      const scraped = await metrics.registry.metrics()
      expect(scraped).toMatch(/^nps_bot_paid_broadcast 1$/m)
      expect(scraped).toMatch(/^nps_bot_paid_broadcast_refusals_total 0$/m)
    }, 30_000)

    test("off: no flag, and never more than 30 a second", async () => {
      standIn = await startBotApiStandIn({ floodLimits: true })
      const { chats } = await broadcastTo(40)
      const { metrics, settled } = await payingBot(false, 30, standIn)
      await settled(chats.length)
      const sent = standIn.sent()
      expect(sent).toHaveLength(chats.length)
      expect(sent.every((c) => c.status === 200 && !("allow_paid_broadcast" in c.params))).toBe(
        true,
      )
      expect(standIn.busiest(1_000)).toBeLessThanOrEqual(30)
      expect(standIn.floodRefusals).toBe(0)
      expect(await metrics.registry.metrics()).toMatch(/^nps_bot_paid_broadcast 0$/m)
    }, 30_000)

    test("refused by Telegram: said once, counted, and every notification still sent free", async () => {
      standIn = await startBotApiStandIn({ floodLimits: true, paidBroadcast: "refused" })
      const { chats, ids } = await broadcastTo(12)
      const { broadcast, metrics, settled, reported, logs } = await payingBot(true, 1_000, standIn)
      await settled(chats.length)

      expect(broadcast.paid).toBe(false)
      expect(standIn.paidRefusals).toBeGreaterThanOrEqual(1)
      expect(reported.map((r) => r.outcome)).toEqual(chats.map(() => "sent"))
      for (const chat of chats) {
        const accepted = standIn.sent(chat).filter((c) => c.status === 200)
        expect(accepted).toHaveLength(1)
        expect(accepted[0]?.params.allow_paid_broadcast).toBeUndefined()
      }
      for (const id of ids) expect(await statusOf(id)).toBe("sent")
      const warnings = logs.lines.filter((l) => l.includes("refused a paid broadcast"))
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toContain("BALANCE_TOO_LOW")
      const scraped = await metrics.registry.metrics()
      expect(scraped).toMatch(/^nps_bot_paid_broadcast 0$/m)
      const refusals = Number(/^nps_bot_paid_broadcast_refusals_total (\d+)$/m.exec(scraped)?.[1])
      expect(refusals).toBe(standIn.paidRefusals)
      expect(standIn.floodRefusals).toBe(0)
    }, 30_000)

    if (redisStore)
      test("two replicas sharing Redis keep one paid budget: every message flagged, never past it", async () => {
        // Telegram's paid ceiling scaled down to 12 a second, with each replica set to 11: two
        // replicas each on a budget of its own would send 22 a second and meet 429s.
        const ceiling = { limit: 12, windowMs: 1_000 }
        standIn = await startBotApiStandIn({
          floodLimits: {
            overall: { limit: 30, windowMs: 1_000 },
            paid: ceiling,
            privateChat: { limit: 1, windowMs: 1_000 },
            groupChat: { limit: 20, windowMs: 60_000 },
          },
        })
        const { chats } = await broadcastTo(48)
        const limits = { ...broadcastLimits(true, 11), paid: ceiling }
        const results = watched(suite.realApi)
        // Each holds half the broadcast at most, so both have some to send.
        const replica = { shared: { name: crypto.randomUUID(), limits }, results, capacity: 24 }
        await payingBot(true, 11, standIn, replica)
        await payingBot(true, 11, standIn, replica)
        await results.settledCount(chats.length)
        const sent = standIn.sent()
        expect(sent.filter((c) => c.status === 200)).toHaveLength(chats.length)
        expect(sent.every((c) => c.params.allow_paid_broadcast === true)).toBe(true)
        expect(standIn.floodRefusals).toBe(0)
        expect(standIn.busiest(1_000)).toBeLessThanOrEqual(12)
        for (const bot of bots)
          expect(bot.logs.find("notification delivered").length).toBeGreaterThan(0)
      }, 30_000)
  })
}
