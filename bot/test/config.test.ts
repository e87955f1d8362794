import { describe, expect, test } from "bun:test"
import { ConfigError, loadConfig, TOKEN_MISSING } from "../src/config"

const TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"

const issuesOf = (env: Record<string, string | undefined>) => {
  try {
    loadConfig(env)
  } catch (error) {
    if (error instanceof ConfigError) return error.issues
    throw error
  }
  return []
}

describe("loadConfig", () => {
  test("applies the contract's defaults", () => {
    expect(loadConfig({ NPS_BOT_TOKEN: TOKEN })).toEqual({
      token: TOKEN,
      apiUrl: "http://api:8000/api",
      serviceKey: undefined,
      rateLimit: 20,
      telegramApiRoot: "https://api.telegram.org",
      logLevel: "info",
      heartbeatFile: undefined,
      metricsPort: undefined,
      mode: "polling",
      webhook: undefined,
      redisUrl: undefined,
      paidBroadcast: false,
      broadcastRate: 28,
    })
  })

  test("reads every variable", () => {
    const config = loadConfig({
      NPS_BOT_TOKEN: TOKEN,
      TELEGRAM_BOT_API_URL: "http://localhost:8000/api/",
      TELEGRAM_BOT_SERVICE_KEY: `nps_${"a".repeat(43)}`,
      TELEGRAM_RATE_LIMIT: "5",
      TELEGRAM_API_ROOT: "http://127.0.0.1:8081/",
      LOG_LEVEL: "DEBUG",
      BOT_HEARTBEAT_FILE: "/tmp/bot-heartbeat",
      METRICS_PORT: "9464",
      TELEGRAM_PAID_BROADCAST: "TRUE",
      TELEGRAM_BROADCAST_RATE: "900",
    })
    expect(config).toMatchObject({
      paidBroadcast: true,
      broadcastRate: 900,
      apiUrl: "http://localhost:8000/api",
      rateLimit: 5,
      telegramApiRoot: "http://127.0.0.1:8081",
      logLevel: "debug",
      heartbeatFile: "/tmp/bot-heartbeat",
      metricsPort: 9464,
    })
  })

  test("a missing or blank token gives the seed's exact message", () => {
    expect(issuesOf({})).toEqual([{ variable: "NPS_BOT_TOKEN", message: TOKEN_MISSING }])
    expect(issuesOf({ NPS_BOT_TOKEN: "  " })).toEqual([
      { variable: "NPS_BOT_TOKEN", message: TOKEN_MISSING },
    ])
    expect(TOKEN_MISSING).toBe("NPS_BOT_TOKEN not set — cannot start bot")
  })

  test("names every bad variable, never echoing its value", () => {
    const issues = issuesOf({
      NPS_BOT_TOKEN: "not a/token",
      TELEGRAM_RATE_LIMIT: "many",
      TELEGRAM_API_ROOT: "ftp://example.com",
      LOG_LEVEL: "loud",
      TELEGRAM_BOT_SERVICE_KEY: "short",
    })
    expect(issues.map((issue) => issue.variable).sort()).toEqual([
      "LOG_LEVEL",
      "NPS_BOT_TOKEN",
      "TELEGRAM_API_ROOT",
      "TELEGRAM_BOT_SERVICE_KEY",
      "TELEGRAM_RATE_LIMIT",
    ])
    for (const issue of issues) expect(issue.message).toStartWith(issue.variable)
    const text = JSON.stringify(issues)
    for (const secret of ["not a/token", "short"]) expect(text).not.toContain(secret)
  })

  test("accepts only a service key the API would accept (nps_ followed by URL-safe base64)", () => {
    const long = "A".repeat(43)
    expect(issuesOf({ NPS_BOT_TOKEN: TOKEN, TELEGRAM_BOT_SERVICE_KEY: long })[0]?.variable).toBe(
      "TELEGRAM_BOT_SERVICE_KEY",
    )
    expect(issuesOf({ NPS_BOT_TOKEN: TOKEN, TELEGRAM_BOT_SERVICE_KEY: `nps_${long}` })).toEqual([])
  })

  test("METRICS_PORT must be a whole port number", () => {
    for (const bad of ["metrics", "9464.5", "65536", "-1"])
      expect(issuesOf({ NPS_BOT_TOKEN: TOKEN, METRICS_PORT: bad })).toEqual([
        { variable: "METRICS_PORT", message: expect.stringContaining("port number") },
      ])
  })

  test("rejects a rate limit of zero or a fraction", () => {
    expect(issuesOf({ NPS_BOT_TOKEN: TOKEN, TELEGRAM_RATE_LIMIT: "0" })[0]?.variable).toBe(
      "TELEGRAM_RATE_LIMIT",
    )
    expect(issuesOf({ NPS_BOT_TOKEN: TOKEN, TELEGRAM_RATE_LIMIT: "2.5" })[0]?.variable).toBe(
      "TELEGRAM_RATE_LIMIT",
    )
  })

  test("webhook mode: the URL's path is served, the secret and the listen address come along", () => {
    const secret = "s3cr3t_T0ken-with-the-allowed-characters"
    const config = loadConfig({
      NPS_BOT_TOKEN: TOKEN,
      BOT_MODE: "Webhook",
      WEBHOOK_URL: "https://bot.example.com/telegram/hook",
      WEBHOOK_SECRET: secret,
      WEBHOOK_PORT: "8443",
      REDIS_URL: "redis://:pw@redis:6379/2",
    })
    expect(config).toMatchObject({
      mode: "webhook",
      webhook: {
        url: "https://bot.example.com/telegram/hook",
        path: "/telegram/hook",
        secret,
        host: "0.0.0.0",
        port: 8443,
      },
      redisUrl: "redis://:pw@redis:6379/2",
    })
  })

  test("webhook mode needs WEBHOOK_URL and WEBHOOK_SECRET, named in words", () => {
    expect(issuesOf({ NPS_BOT_TOKEN: TOKEN, BOT_MODE: "webhook" })).toEqual([
      {
        variable: "WEBHOOK_URL",
        message: expect.stringMatching(/^WEBHOOK_URL is required when BOT_MODE=webhook: .*https/),
      },
      {
        variable: "WEBHOOK_SECRET",
        message: expect.stringMatching(
          /^WEBHOOK_SECRET is required when BOT_MODE=webhook: 1 to 256/,
        ),
      },
    ])
    // Polling ignores them.
    expect(issuesOf({ NPS_BOT_TOKEN: TOKEN })).toEqual([])
  })

  test("a webhook secret is 1 to 256 of A-Z a-z 0-9 _ -, and its value is never echoed", () => {
    const webhook = {
      NPS_BOT_TOKEN: TOKEN,
      BOT_MODE: "webhook",
      WEBHOOK_URL: "https://b.example/h",
    }
    for (const bad of ["has space", "dots.are.not.allowed", "ü-umlaut", "x".repeat(257)]) {
      const issues = issuesOf({ ...webhook, WEBHOOK_SECRET: bad })
      expect(issues).toEqual([
        { variable: "WEBHOOK_SECRET", message: expect.stringContaining("1 to 256 characters") },
      ])
      expect(JSON.stringify(issues)).not.toContain(bad)
    }
    expect(issuesOf({ ...webhook, WEBHOOK_SECRET: "x".repeat(256) })).toEqual([])
    expect(issuesOf({ ...webhook, WEBHOOK_SECRET: "a" })).toEqual([])
  })

  test("BOT_MODE, WEBHOOK_URL, WEBHOOK_PORT and REDIS_URL are checked", () => {
    expect(
      issuesOf({
        NPS_BOT_TOKEN: TOKEN,
        BOT_MODE: "push",
        WEBHOOK_URL: "ftp://example.com/hook",
        WEBHOOK_PORT: "80.5",
        REDIS_URL: "localhost:6379",
      }).map((issue) => issue.variable),
    ).toEqual(["BOT_MODE", "WEBHOOK_URL", "REDIS_URL", "WEBHOOK_PORT"])
    // The health check has that path.
    expect(issuesOf({ NPS_BOT_TOKEN: TOKEN, WEBHOOK_URL: "https://b.example/healthz" })).toEqual([
      { variable: "WEBHOOK_URL", message: expect.stringContaining("cannot be /healthz") },
    ])
  })

  describe("paid broadcast", () => {
    const rateIssues = (env: Record<string, string>) =>
      issuesOf({ NPS_BOT_TOKEN: TOKEN, ...env }).filter((i) => i.variable.startsWith("TELEGRAM_"))

    test("up to 30 notifications a second without it, up to 1000 with it", () => {
      expect(loadConfig({ NPS_BOT_TOKEN: TOKEN, TELEGRAM_BROADCAST_RATE: "30" })).toMatchObject({
        paidBroadcast: false,
        broadcastRate: 30,
      })
      expect(
        loadConfig({
          NPS_BOT_TOKEN: TOKEN,
          TELEGRAM_PAID_BROADCAST: "true",
          TELEGRAM_BROADCAST_RATE: "1000",
        }),
      ).toMatchObject({ paidBroadcast: true, broadcastRate: 1000 })
      expect(
        loadConfig({ NPS_BOT_TOKEN: TOKEN, TELEGRAM_PAID_BROADCAST: "false" }).paidBroadcast,
      ).toBe(false)
    })

    test("a rate above 30 without paid broadcast is an error naming the variable, in words", () => {
      const [issue, ...rest] = rateIssues({ TELEGRAM_BROADCAST_RATE: "31" })
      expect(rest).toEqual([])
      expect(issue?.variable).toBe("TELEGRAM_BROADCAST_RATE")
      expect(issue?.message).toContain("TELEGRAM_BROADCAST_RATE")
      expect(issue?.message).toContain("at most 30")
      expect(issue?.message).toContain("TELEGRAM_PAID_BROADCAST=true")
    })

    test("above 1000, zero, a fraction or a word is an error even with paid broadcast", () => {
      for (const rate of ["1001", "0", "2.5", "fast", "-3"]) {
        const issues = rateIssues({
          TELEGRAM_PAID_BROADCAST: "true",
          TELEGRAM_BROADCAST_RATE: rate,
        })
        expect(issues.map((i) => i.variable)).toEqual(["TELEGRAM_BROADCAST_RATE"])
        expect(issues[0]?.message).toContain("1000")
      }
    })

    test("TELEGRAM_PAID_BROADCAST is true or false, nothing else", () => {
      for (const value of ["yes", "1", "on"]) {
        const issues = rateIssues({ TELEGRAM_PAID_BROADCAST: value })
        expect(issues).toEqual([
          {
            variable: "TELEGRAM_PAID_BROADCAST",
            message: "TELEGRAM_PAID_BROADCAST is invalid: expected true or false",
          },
        ])
      }
    })
  })
})
