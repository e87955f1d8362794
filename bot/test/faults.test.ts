// Fault drills: what users see when the parts around the bot fail, and that no update is lost or
// handled twice through it — the NPS API going away and coming back under traffic (the real API
// over a port), Telegram answering 429, 5xx or nothing while the bot polls and while it replies
// (the Bot API stand-in), and SIGTERM to the real process with 50 updates in flight.
import { afterEach, describe, expect, test } from "bun:test"
import type { TelegramUpdate } from "@gramio/types"
import { type BotApiStandIn, type Failure, startBotApiStandIn } from "@nps/testing/stand-in"
import { createApiClient } from "../src/api-client"
import {
  DB_TIMEOUT,
  deferred,
  drivers,
  type Harness,
  openRealApi,
  seedUser,
  settled,
  spawnBot,
  startHarness,
  textsTo,
} from "./harness"

let cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const step of cleanup.reverse()) await step()
  cleanup = []
})

/** How many times each update was handled, from the bot's one log line per update. */
const handledCounts = (h: Harness) => {
  const counts = new Map<number, number>()
  for (const record of [...h.logs.find("update handled"), ...h.logs.find("update failed")]) {
    const id = Number(record.update_id)
    counts.set(id, (counts.get(id) ?? 0) + 1)
  }
  return counts
}

const expectEachHandledOnce = (h: Harness, updates: TelegramUpdate[]) => {
  const counts = handledCounts(h)
  expect(updates.map((u) => counts.get(u.update_id) ?? 0)).toEqual(updates.map(() => 1))
}

for (const driver of drivers()) {
  test(
    `[${driver}] the API gone and back under traffic: "temporarily unavailable", then normal replies`,
    async () => {
      const realApi = await openRealApi(driver)
      cleanup.push(() => realApi.close())
      const { key } = await seedUser(realApi.db, { username: "alice" })
      const serve = (port: number) =>
        Bun.serve({ hostname: "127.0.0.1", port, fetch: (r) => realApi.app.handle(r) })
      let server = serve(0)
      const port = server.port as number
      cleanup.push(() => server.stop(true))
      const h = await startHarness({
        apiFactory: (logger) =>
          createApiClient({
            baseUrl: `http://127.0.0.1:${port}/api`,
            serviceKey: realApi.serviceKey,
            logger,
          }),
      })
      cleanup.push(() => h.close())

      const chats = Array.from({ length: 12 }, (_, i) => 610_000 + i)
      for (const chat of chats)
        expect(await h.standIn.say(chat, `/link ${key}`)).toEqual([
          expect.stringContaining("Welcome, alice"),
        ])
      /** Every chat asks /status at once; their replies, in chat order. */
      const burst = async () => {
        const sent = chats.map((chat) => h.standIn.message(chat, "/status"))
        await settled(h, sent.at(-1) as TelegramUpdate)
        return { sent, replies: chats.map((chat) => textsTo(h.standIn, chat).at(-1)) }
      }

      const before = await burst()
      expect(before.replies).toEqual(chats.map(() => expect.stringContaining("Username: alice")))

      await server.stop(true) // the API goes away
      const during = await burst()
      expect(during.replies).toEqual(
        chats.map(() => expect.stringContaining("temporarily unavailable")),
      )

      server = serve(port) // and comes back, same address
      const after = await burst()
      expect(after.replies).toEqual(chats.map(() => expect.stringContaining("Username: alice")))

      // One reply per message, no update lost or handled twice.
      for (const chat of chats) expect(textsTo(h.standIn, chat)).toHaveLength(4)
      expectEachHandledOnce(h, [...before.sent, ...during.sent, ...after.sent])
    },
    DB_TIMEOUT,
  )
}

// Each fault as the stand-in plays it: Telegram's flood limit, its 5xx, and a call never answered.
const FAULTS: [string, Failure][] = [
  ["429 with retry_after", { status: 429, retryAfter: 1 }],
  ["502 with an HTML page", { status: 502, body: "<html><body>502 Bad Gateway</body></html>" }],
  ["no answer at all", { hang: true }],
]

describe("Telegram failing while the bot polls", () => {
  for (const [name, failure] of FAULTS) {
    test(`${name}: every update queued meanwhile is answered once, in order`, async () => {
      const standIn = await startBotApiStandIn()
      cleanup.push(() => standIn.close())
      const h = await startHarness({
        standIn,
        start: false,
        sleep: async () => {}, // backoff and retry_after without the wait
        polling: { timeoutSeconds: 1, deadlineMarginMs: 300 }, // a hung poll is given up fast
      })
      cleanup.push(() => h.close())
      standIn.fail("getUpdates", failure, 2)
      const updates = [
        standIn.message(1, "/start"),
        standIn.message(2, "/help"),
        standIn.message(1, "/help"),
      ]
      await h.nps.start()
      await settled(h, updates.at(-1) as TelegramUpdate)
      expect(textsTo(standIn, 1)).toEqual([
        expect.stringContaining("NPS Oracle Bot"),
        expect.stringContaining("/unlink"),
      ])
      expect(textsTo(standIn, 2)).toEqual([expect.stringContaining("/unlink")])
      expectEachHandledOnce(h, updates)
      const failed = standIn.calls.filter((c) => c.method === "getUpdates" && c.status !== 200)
      expect(failed).toHaveLength(2)
    })
  }
})

describe("Telegram failing while the bot replies", () => {
  for (const [name, failure] of FAULTS) {
    test(`${name}: the reply is sent again and arrives once; the update is handled once`, async () => {
      const h = await startHarness({
        sleep: async () => {},
        telegramTimeoutMs: 500, // a reply never answered counts as failed after this
      })
      cleanup.push(() => h.close())
      h.standIn.fail("sendMessage", failure)
      const update = h.standIn.message(7, "/help")
      await settled(h, update)
      const attempts = h.standIn.sent(7)
      expect(attempts.map((c) => c.status)).toEqual(["hang" in failure ? 0 : failure.status, 200])
      expectEachHandledOnce(h, [update])
      expect(h.logs.find("update failed")).toEqual([])
    })
  }
})

describe("SIGTERM to the real process with 50 updates in flight", () => {
  // 25 chats × (/status, held at the API; then /help, queued behind it in the chat's lane).
  const CHATS = Array.from({ length: 25 }, (_, i) => 700_000 + i)

  const drill = async (api: "answers during the drain" | "stays stuck") => {
    const standIn: BotApiStandIn = await startBotApiStandIn()
    cleanup.push(() => standIn.close())
    const realApi = await openRealApi()
    cleanup.push(() => realApi.close())
    // The real API behind a gate: calls arrive and wait until the test opens it.
    const gate = deferred()
    let arrived = 0
    const busy = deferred()
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: async (request) => {
        if (++arrived === 16) busy.resolve() // the bot's concurrency: 16 chats at once
        await gate.promise
        return realApi.app.handle(request)
      },
    })
    cleanup.push(() => server.stop(true))
    cleanup.push(() => gate.resolve())

    const bot = spawnBot({
      NPS_BOT_TOKEN: standIn.token,
      TELEGRAM_API_ROOT: standIn.url,
      TELEGRAM_BOT_API_URL: `http://127.0.0.1:${server.port}/api`,
      TELEGRAM_BOT_SERVICE_KEY: realApi.serviceKey,
    })
    cleanup.push(() => bot.proc.kill("SIGKILL"))
    await bot.waitForLog((r) => r.msg === "bot started")
    const updates = CHATS.flatMap((chat) => [
      standIn.message(chat, "/status"),
      standIn.message(chat, "/help"),
    ])
    expect(updates).toHaveLength(50)
    await standIn.delivered(updates.at(-1)?.update_id as number) // all 50 are in the bot
    await busy.promise // and 16 of them are waiting on the API

    const signalled = performance.now()
    bot.proc.kill("SIGTERM")
    await bot.waitForLog((r) => r.msg === "shutting down")
    if (api === "answers during the drain") gate.resolve()
    expect(await bot.proc.exited).toBe(0)
    expect(performance.now() - signalled).toBeLessThan(10_000) // the contract's deadline

    // Every update answered exactly once, in its chat's order, before the exit.
    const status = api === "stays stuck" ? "temporarily unavailable" : "Not linked"
    for (const chat of CHATS)
      expect({ chat, replies: textsTo(standIn, chat) }).toEqual({
        chat,
        replies: [expect.stringContaining(status), expect.stringContaining("/unlink")],
      })
    // Telegram was told: a restarted bot gets none of them again.
    expect(standIn.pendingUpdates).toBe(0)
    await bot.drained
    expect(bot.lines.join("\n")).not.toContain(standIn.token)
  }

  test(
    "the API answers during the drain: all 50 are answered, then exit 0",
    () => drill("answers during the drain"),
    DB_TIMEOUT,
  )
  test(
    "the API stays stuck: the 50 are answered 'temporarily unavailable' (not dropped), then exit 0",
    () => drill("stays stuck"),
    DB_TIMEOUT,
  )
})
