// `bun bot/src/main.ts` as a process: configuration errors, signals, and a clean exit with the
// in-flight update finished — against the Bot API stand-in and the real API behind a gate.
import { afterEach, describe, expect, test } from "bun:test"
import { type BotApiStandIn, startBotApiStandIn } from "../src/stand-in"
import { DB_TIMEOUT, deferred, openRealApi, spawnBot } from "./harness"

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
    for (const args of [["--hepl"], ["start"]]) {
      const bot = spawnBot(botEnv(standIn), args)
      expect(await bot.proc.exited).toBe(1)
      expect(bot.lines.join("\n")).toContain("Run bun bot/src/main.ts --help for usage.")
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
          arrived.resolve()
          await gate.promise
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
