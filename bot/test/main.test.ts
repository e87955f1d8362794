// `bun bot/src/main.ts` as a process: configuration errors, signals, and a clean exit with the
// in-flight update finished — against the Bot API stand-in and the real API behind a gate.
import { afterEach, describe, expect, test } from "bun:test"
import { telegramLinks } from "@nps/db"
import { req } from "@nps/testing/api"
import { type BotApiStandIn, startBotApiStandIn } from "@nps/testing/stand-in"
import { eq } from "drizzle-orm"
import { DB_TIMEOUT, deferred, openRealApi, type RealApi, seedUser, spawnBot } from "./harness"

let cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const step of cleanup.reverse()) await step()
  cleanup = []
})

const startStandIn = async () => {
  const standIn = await startBotApiStandIn()
  cleanup.push(() => standIn.close())
  return standIn
}

const botEnv = (standIn: BotApiStandIn, extra: Record<string, string> = {}) => ({
  NPS_BOT_TOKEN: standIn.token,
  TELEGRAM_API_ROOT: standIn.url,
  TELEGRAM_BOT_API_URL: "http://127.0.0.1:9/api",
  ...extra,
})

describe("main.ts", () => {
  test("--help / -h prints the usage and every variable, and does nothing else", async () => {
    const standIn = await startStandIn()
    for (const flag of ["--help", "-h"]) {
      const bot = spawnBot(botEnv(standIn, { METRICS_PORT: "0" }), [flag])
      expect(await bot.proc.exited).toBe(0)
      const output = bot.lines.join("\n")
      expect(output).toStartWith("Usage: bun bot/src/main.ts")
      for (const variable of ["NPS_BOT_TOKEN", "TELEGRAM_API_ROOT", "METRICS_PORT", "LOG_LEVEL"])
        expect(output).toContain(variable)
    }
    expect(standIn.calls).toEqual([]) // not even getMe
  })

  test("an argument it does not know is an error, before anything starts", async () => {
    const standIn = await startStandIn()
    for (const [args, said] of [
      [["--hepl"], "bot: unknown option --hepl\n"],
      [["--bogus", "1"], "bot: unknown option --bogus\n"],
      [["start"], "bot: unexpected argument"],
    ] as const) {
      const bot = spawnBot(botEnv(standIn), [...args])
      expect(await bot.proc.exited).toBe(1)
      // The same words as every other command line, and the command a newcomer types.
      expect(bot.lines.join("\n")).toContain(said)
      expect(bot.lines.join("\n")).toContain("Run bun run start:bot --help for usage.")
    }
    expect(standIn.calls).toEqual([])
  })

  test("without NPS_BOT_TOKEN it logs the seed's message and exits 1", async () => {
    const bot = spawnBot({})
    expect(await bot.proc.exited).toBe(1)
    const record = await bot.waitForLog((r) => r.level === "error")
    expect(record.msg).toBe("NPS_BOT_TOKEN not set — cannot start bot")
  })

  test("an invalid variable is named and the process exits 1", async () => {
    const bot = spawnBot({ NPS_BOT_TOKEN: "123456:abcdef", TELEGRAM_RATE_LIMIT: "lots" })
    expect(await bot.proc.exited).toBe(1)
    const record = await bot.waitForLog((r) => r.level === "error")
    expect(record).toMatchObject({ variable: "TELEGRAM_RATE_LIMIT" })
    expect(String(record.msg)).toContain("TELEGRAM_RATE_LIMIT")
  })

  test("a token Telegram rejects exits 1 naming NPS_BOT_TOKEN, without printing it", async () => {
    const standIn = await startStandIn()
    standIn.fail("getMe", { status: 401, description: "Unauthorized" })
    const bot = spawnBot(botEnv(standIn))
    expect(await bot.proc.exited).toBe(1)
    expect(await bot.waitForLog((r) => r.level === "error")).toMatchObject({
      variable: "NPS_BOT_TOKEN",
    })
    expect(bot.lines.join("\n")).not.toContain(standIn.token)
  })

  test("DEBUG is cleared before GramIO loads, so its debug output (with secrets) never appears", async () => {
    const standIn = await startStandIn()
    const bot = spawnBot(botEnv(standIn, { DEBUG: "*" }))
    cleanup.push(() => bot.proc.kill("SIGKILL"))
    await bot.waitForLog((r) => r.msg === "bot started")
    expect(await standIn.say(32, "/help")).toHaveLength(1)
    bot.proc.kill("SIGTERM")
    expect(await bot.proc.exited).toBe(0)
    const output = bot.lines.join("\n")
    expect(output).toContain("DEBUG is ignored")
    expect(output).not.toContain("gramio:")
    expect(output).not.toContain(standIn.token)
  })

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    test(`${signal} in the middle of a long poll exits 0 promptly`, async () => {
      const standIn = await startStandIn()
      const bot = spawnBot(botEnv(standIn))
      cleanup.push(() => bot.proc.kill("SIGKILL"))
      await bot.waitForLog((r) => r.msg === "bot started")
      await standIn.waitForPoll()
      const started = performance.now()
      bot.proc.kill(signal)
      expect(await bot.proc.exited).toBe(0)
      expect(performance.now() - started).toBeLessThan(3_000)
    })
  }

  test(
    "SIGTERM with an update in flight lets it finish, sends the reply, and exits 0",
    async () => {
      const standIn = await startStandIn()
      const realApi = await openRealApi()
      cleanup.push(() => realApi.close())
      // The real API behind a gate: the bot's /status call is held until the test lets it through.
      const arrived = deferred()
      const gate = deferred()
      const api = Bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        fetch: async (request) => {
          // Only the command's call: the delivery loop's lease goes straight through.
          if (new URL(request.url).pathname.includes("/status/")) {
            arrived.resolve()
            await gate.promise
          }
          return realApi.app.handle(request)
        },
      })
      cleanup.push(() => api.stop(true))

      const bot = spawnBot(
        botEnv(standIn, {
          TELEGRAM_BOT_API_URL: `http://127.0.0.1:${api.port}/api`,
          TELEGRAM_BOT_SERVICE_KEY: realApi.serviceKey,
        }),
      )
      cleanup.push(() => bot.proc.kill("SIGKILL"))
      await bot.waitForLog((r) => r.msg === "bot started")
      standIn.message(31, "/status")
      await arrived.promise
      const started = performance.now()
      bot.proc.kill("SIGTERM")
      await bot.waitForLog((r) => r.msg === "shutting down")
      gate.resolve()

      expect(await bot.proc.exited).toBe(0)
      expect(performance.now() - started).toBeLessThan(10_000)
      expect(standIn.sent(31).map((c) => String(c.params.text))).toEqual([
        expect.stringContaining("Not linked"),
      ])
      expect(await bot.waitForLog((r) => r.msg === "bot stopped")).toMatchObject({ drained: true })
      expect(bot.lines.join("\n")).not.toContain(standIn.token)
      expect(bot.lines.join("\n")).not.toContain(realApi.serviceKey)
    },
    DB_TIMEOUT,
  )
})

describe("main.ts delivering notifications", () => {
  /** The real API on a port, with a clock the test moves (leases expire on it). */
  const startApi = async () => {
    let offset = 0
    const realApi = await openRealApi("pglite", {
      now: () => new Date(Date.now() + offset),
      deliveries: { recheckMs: 200 },
    })
    cleanup.push(() => realApi.close())
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (r) => realApi.app.handle(r),
    })
    cleanup.push(() => server.stop(true))
    const notifier = await seedUser(realApi.db, { username: "alerts", scopes: ["telegram:notify"] })
    const reader = await seedUser(realApi.db, { username: "reader" })
    const notify = async (chatId: number, text: string) => {
      await realApi.db
        .insert(telegramLinks)
        .values({ telegramChatId: chatId, userId: reader.user.id })
        .onConflictDoNothing()
      const res = await req(realApi.app, "POST", "/api/telegram/notifications", {
        token: notifier.key,
        body: { username: "reader", text },
      })
      expect(res.status).toBe(202)
      await realApi.db.delete(telegramLinks).where(eq(telegramLinks.telegramChatId, chatId))
      return res.body.id as string
    }
    const waitingLeases = async () =>
      /nps_delivery_leases_waiting (\d+)/.exec(
        (await req(realApi.app, "GET", "/metrics")).text,
      )?.[1]
    return {
      realApi,
      notifier: notifier.key,
      notify,
      waitingLeases,
      url: `http://127.0.0.1:${server.port}/api`,
      advance: (ms: number) => {
        offset += ms
      },
    }
  }
  const spawnDeliveringBot = (
    standIn: BotApiStandIn,
    api: { url: string; realApi: RealApi },
    env: Record<string, string> = {},
  ) => {
    const bot = spawnBot(
      botEnv(standIn, {
        TELEGRAM_BOT_API_URL: api.url,
        TELEGRAM_BOT_SERVICE_KEY: api.realApi.serviceKey,
        ...env,
      }),
    )
    cleanup.push(() => bot.proc.kill("SIGKILL"))
    return bot
  }

  test(
    "while the delivery long poll is open, commands still reach the API; SIGTERM then exits 0 promptly",
    async () => {
      const standIn = await startStandIn()
      const api = await startApi()
      const bot = spawnDeliveringBot(standIn, api)
      await bot.waitForLog((r) => r.msg === "bot started")
      await standIn.waitForPoll()
      // The API holds the bot's lease open, waiting for work.
      while ((await api.waitingLeases()) !== "1") await Bun.sleep(20)
      // Meanwhile the commands' own API calls are answered: nothing queues behind the long poll.
      expect(await standIn.say(33, "/status")).toEqual([expect.stringContaining("Not linked")])
      expect(await api.waitingLeases()).toBe("1")
      const started = performance.now()
      bot.proc.kill("SIGTERM")
      expect(await bot.proc.exited).toBe(0)
      expect(performance.now() - started).toBeLessThan(5_000)
    },
    DB_TIMEOUT,
  )

  test(
    "SIGTERM with deliveries waiting for their turn hands them back and exits 0",
    async () => {
      const standIn = await startStandIn()
      const api = await startApi()
      // The first send meets a minute-long flood wait: the next one waits behind the pause.
      standIn.fail("sendMessage", { status: 429, retryAfter: 60 })
      const bot = spawnDeliveringBot(standIn, api, { LOG_LEVEL: "debug" })
      await bot.waitForLog((r) => r.msg === "bot started")
      await api.notify(51, "first")
      await standIn.waitForCall("sendMessage", (c) => c.status === 429)
      const waiting = await api.notify(52, "second")
      // Leased, and waiting behind the pause.
      await bot.waitForLog((r) => r.msg === "deliveries leased", 5_000, 2)
      const started = performance.now()
      bot.proc.kill("SIGTERM")
      expect(await bot.proc.exited).toBe(0)
      expect(performance.now() - started).toBeLessThan(10_000)
      expect(standIn.sent(52)).toEqual([])
      // Handed back: leasable at once, not a minute from now.
      const lease = await req(api.realApi.app, "POST", "/api/telegram/deliveries/lease", {
        token: api.realApi.serviceKey,
        body: {},
      })
      expect(lease.body.deliveries).toMatchObject([{ notification_id: waiting, text: "second" }])
    },
    DB_TIMEOUT,
  )

  test(
    "a bot killed while sending: after its lease expires the restarted bot delivers the message once",
    async () => {
      const standIn = await startStandIn()
      const api = await startApi()
      standIn.fail("sendMessage", { hang: true })
      const first = spawnDeliveringBot(standIn, api)
      await first.waitForLog((r) => r.msg === "bot started")
      const id = await api.notify(61, "exactly once")
      await standIn.waitForRequest("sendMessage", (p) => Number(p.chat_id) === 61)
      first.proc.kill("SIGKILL")
      await first.proc.exited

      const second = spawnDeliveringBot(standIn, api)
      await second.waitForLog((r) => r.msg === "bot started")
      // Still leased to the dead bot: nothing is sent until the lease runs out.
      while ((await api.waitingLeases()) !== "1") await Bun.sleep(20)
      expect(standIn.sent(61).filter((c) => c.status === 200)).toEqual([])
      api.advance(61_000)
      await standIn.waitForCall(
        "sendMessage",
        (c) => Number(c.params.chat_id) === 61 && c.status === 200,
      )
      await second.waitForLog((r) => r.msg === "notification delivered")
      second.proc.kill("SIGTERM")
      expect(await second.proc.exited).toBe(0)
      expect(
        standIn
          .sent(61)
          .filter((c) => c.status === 200)
          .map((c) => c.params.text),
      ).toEqual(["exactly once"])
      const view = await req(api.realApi.app, "GET", `/api/telegram/notifications/${id}`, {
        token: api.notifier,
      })
      expect(view.body).toMatchObject({
        status: "sent",
        deliveries: [{ telegram_chat_id: 61, status: "sent" }],
      })
    },
    DB_TIMEOUT,
  )
})
