// Paid broadcast outside the in-process harness: the bot as a process (configuration errors, the
// flag, the fallback in its log and /metrics), and the Bot API stand-in's model of paid sends.
import { describe, expect, test } from "bun:test"
import { telegramLinks } from "@nps/db"
import { req } from "@nps/testing/api"
import { type BotApiStandIn, startBotApiStandIn } from "@nps/testing/stand-in"
import { isPaidBroadcastRefusal } from "../src/outbound/broadcast"
import { DB_TIMEOUT, openRealApi, seedUser, spawnBot } from "./harness"

describe("the bot process", () => {
  test(
    "TELEGRAM_PAID_BROADCAST=true: flagged until Telegram refuses, then free, in the log and /metrics",
    async () => {
      const standIn = await startBotApiStandIn({ paidBroadcast: "refused" })
      const realApi = await openRealApi("pglite")
      const server = Bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        fetch: (r) => realApi.app.handle(r),
      })
      const bot = spawnBot({
        NPS_BOT_TOKEN: standIn.token,
        TELEGRAM_API_ROOT: standIn.url,
        TELEGRAM_BOT_API_URL: `http://127.0.0.1:${server.port}/api`,
        TELEGRAM_BOT_SERVICE_KEY: realApi.serviceKey,
        TELEGRAM_PAID_BROADCAST: "true",
        TELEGRAM_BROADCAST_RATE: "500",
        METRICS_PORT: "0",
      })
      try {
        const metricsUrl = String((await bot.waitForLog((r) => r.msg === "metrics listening")).url)
        const started = await bot.waitForLog((r) => r.msg === "bot started")
        expect(started).toMatchObject({ paid_broadcast: true, deliveries_per_second: 500 })
        const scrape = async () => (await fetch(metricsUrl.replace("0.0.0.0", "127.0.0.1"))).text()
        expect(await scrape()).toMatch(/^nps_bot_paid_broadcast 1$/m)

        const notifier = await seedUser(realApi.db, {
          username: "proc-alerts",
          scopes: ["telegram:notify"],
        })
        const reader = await seedUser(realApi.db, { username: "proc-reader" })
        await realApi.db
          .insert(telegramLinks)
          .values({ telegramChatId: 4242, userId: reader.user.id })
        const res = await req(realApi.app, "POST", "/api/telegram/notifications", {
          token: notifier.key,
          body: { username: "proc-reader", text: "paid or not, it arrives" },
        })
        expect(res.status).toBe(202)
        const delivered = await standIn.waitForCall(
          "sendMessage",
          (c) => c.status === 200 && Number(c.params.chat_id) === 4242,
          { timeoutMs: 20_000 },
        )
        expect(delivered.params.allow_paid_broadcast).toBeUndefined()
        expect(standIn.paidRefusals).toBe(1)
        const warning = await bot.waitForLog((r) =>
          String(r.msg).includes("refused a paid broadcast"),
        )
        expect(warning).toMatchObject({ level: "warn", variable: "TELEGRAM_PAID_BROADCAST" })
        const scraped = await scrape()
        expect(scraped).toMatch(/^nps_bot_paid_broadcast 0$/m)
        expect(scraped).toMatch(/^nps_bot_paid_broadcast_refusals_total 1$/m)
        bot.proc.kill("SIGTERM")
        expect(await bot.proc.exited).toBe(0)
      } finally {
        bot.proc.kill("SIGKILL")
        await server.stop(true)
        await realApi.close()
        await standIn.close()
      }
    },
    DB_TIMEOUT * 2,
  )

  test("TELEGRAM_BROADCAST_RATE above 30 without paid broadcast: named, in words, exit 1", async () => {
    const bot = spawnBot({ NPS_BOT_TOKEN: "123456:abcdef", TELEGRAM_BROADCAST_RATE: "100" })
    expect(await bot.proc.exited).toBe(1)
    const record = await bot.waitForLog((r) => r.level === "error")
    expect(record).toMatchObject({ variable: "TELEGRAM_BROADCAST_RATE" })
    expect(String(record.msg)).toContain("at most 30")
  })
})

describe("the stand-in's model of paid broadcast", () => {
  const send = (s: BotApiStandIn, chatId: number, paid: boolean) =>
    fetch(`${s.url}/bot${s.token}/sendMessage`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        chat_id: chatId,
        text: "hi",
        ...(paid && { allow_paid_broadcast: true }),
      }),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as { description?: string } }))
  const statuses = async (s: BotApiStandIn, count: number, paid: boolean, from: number) =>
    (await Promise.all(Array.from({ length: count }, (_, i) => send(s, from + i, paid)))).map(
      (r) => r.status,
    )

  test("30 a second without the flag, up to the paid limit with it, 429 beyond", async () => {
    // A fixed clock: every message arrives in the same instant, whatever the machine's speed.
    const s = await startBotApiStandIn({
      now: () => 0,
      floodLimits: {
        overall: { limit: 30, windowMs: 1_000 },
        paid: { limit: 70, windowMs: 1_000 },
        privateChat: { limit: 1, windowMs: 1_000 },
        groupChat: { limit: 20, windowMs: 60_000 },
      },
    })
    try {
      const free = await statuses(s, 40, false, 1_000)
      expect(free.filter((x) => x === 200)).toHaveLength(30)
      expect(free.filter((x) => x === 429)).toHaveLength(10)
      // The flag skips the free window; the paid one counts every message (30 so far).
      const paid = await statuses(s, 50, true, 2_000)
      expect(paid.filter((x) => x === 200)).toHaveLength(40)
      expect(paid.filter((x) => x === 429)).toHaveLength(10)
      expect(s.floodRefusals).toBe(20)
      expect(s.busiest(1_000)).toBe(70)
    } finally {
      await s.close()
    }
  })

  test("refusing paid sends as Telegram does when the bot cannot pay; the bot recognises it", async () => {
    const s = await startBotApiStandIn({ paidBroadcast: "refused" })
    try {
      const refused = await send(s, 5, true)
      expect(refused.status).toBe(400)
      expect(isPaidBroadcastRefusal({ code: 400, message: refused.body.description ?? "" })).toBe(
        true,
      )
      expect((await send(s, 5, false)).status).toBe(200)
      expect(s.paidRefusals).toBe(1)
      // An ordinary flood limit or a bad request is not a refusal of paid broadcast.
      for (const [code, message] of [
        [429, "Too Many Requests: retry after 5"],
        [400, "Bad Request: chat not found"],
        [403, "Forbidden: bot was blocked by the user"],
      ] as const)
        expect(isPaidBroadcastRefusal({ code, message })).toBe(false)
    } finally {
      await s.close()
    }
  })
})
