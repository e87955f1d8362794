import { expect, test } from "bun:test"
import { urlSecrets } from "@nps/log"
import { ConfigError, JWT_SECRET_REQUIRED, loadConfig } from "../src/config"

test("defaults match the contract", () => {
  const config = loadConfig({})
  expect(config).toMatchObject({
    nodeEnv: "development",
    databaseUrl: undefined,
    pgliteDir: "./.data/pglite",
    host: "0.0.0.0",
    port: 8000,
    logLevel: "info",
    jwtSecretGenerated: true,
  })
  expect(config.jwtSecret.length).toBeGreaterThanOrEqual(32)
  expect(loadConfig({}).jwtSecret).not.toBe(config.jwtSecret)
})

test("production refuses to start without JWT_SECRET", () => {
  expect(() => loadConfig({ NODE_ENV: "production" })).toThrow(JWT_SECRET_REQUIRED)
  expect(
    loadConfig({ NODE_ENV: "production", JWT_SECRET: "x".repeat(32) }).jwtSecretGenerated,
  ).toBe(false)
})

test("every bad variable is named in words, with an example, never with its value", () => {
  const secrets = { TELEGRAM_BOT_SERVICE_KEY: "nps_short", JWT_SECRET: "tooshort" }
  try {
    loadConfig({
      PORT: "eighty",
      DATABASE_URL: "mysql://x",
      LOG_LEVEL: "loud",
      TELEGRAM_BOT_USERNAME: "no spaces allowed",
      ...secrets,
    })
    throw new Error("expected a ConfigError")
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    const { issues } = error as ConfigError
    expect(issues.map((i) => i.variable).sort()).toEqual([
      "DATABASE_URL",
      "JWT_SECRET",
      "LOG_LEVEL",
      "PORT",
      "TELEGRAM_BOT_SERVICE_KEY",
      "TELEGRAM_BOT_USERNAME",
    ])
    for (const issue of issues) {
      expect(issue.message).toStartWith(`${issue.variable} is invalid: expected `)
      // Schema dumps ("Expected integer", "must match pattern") are not for operators.
      expect(issue.message).not.toMatch(/Expected (integer|string|union)|pattern/)
    }
    expect(issues.find((i) => i.variable === "PORT")?.message).toContain("like 8000")
    const text = JSON.stringify(issues)
    for (const value of [...Object.values(secrets), "eighty", "mysql://x", "loud"])
      expect(text).not.toContain(value)
  }
})

test("a port is plain digits: 80.5 and 8e3 are refused, not rounded", () => {
  for (const PORT of ["80.5", "8e3", "-1", "65536"])
    expect(() => loadConfig({ PORT })).toThrow(/PORT is invalid/)
  expect(loadConfig({ PORT: "8080", LOG_LEVEL: "DEBUG" })).toMatchObject({
    port: 8080,
    logLevel: "debug",
  })
})

test("empty variables count as unset; the bot username loses its @", () => {
  const config = loadConfig({
    DATABASE_URL: "",
    PORT: "",
    TELEGRAM_BOT_USERNAME: "@nps_oracle_bot",
  })
  expect(config.databaseUrl).toBeUndefined()
  expect(config.port).toBe(8000)
  expect(config.botUsername).toBe("nps_oracle_bot")
})

test("a database or Redis URL's password is a secret in raw and decoded form", () => {
  const url = "postgres://nps:p%40ss-w0rd@db:5432/nps"
  expect(urlSecrets(url)).toEqual([url, "p%40ss-w0rd", "p@ss-w0rd"])
  expect(urlSecrets("redis://:p%40ss-word@redis:6379/1")).toEqual([
    "redis://:p%40ss-word@redis:6379/1",
    "p%40ss-word",
    "p@ss-word",
  ])
  expect(urlSecrets("postgres://db/nps")).toEqual(["postgres://db/nps"])
  expect(urlSecrets(undefined)).toEqual([])
  // A stray "%" cannot be decoded: the raw password is still a secret, and nothing throws.
  expect(urlSecrets("redis://:a%zz@redis:6379")).toEqual(["redis://:a%zz@redis:6379", "a%zz"])
})

test("REDIS_URL: unset by default; a redis:// or rediss:// URL, else named in words without its value", () => {
  expect(loadConfig({}).redisUrl).toBeUndefined()
  expect(loadConfig({ REDIS_URL: "redis://:pw@redis:6379/1" }).redisUrl).toBe(
    "redis://:pw@redis:6379/1",
  )
  expect(loadConfig({ REDIS_URL: "rediss://cache.example.com:6380" }).redisUrl).toBe(
    "rediss://cache.example.com:6380",
  )
  for (const REDIS_URL of ["cache:7000", "http://cache:7000", "redis://pw secret@cache"]) {
    try {
      loadConfig({ REDIS_URL })
      throw new Error("expected a ConfigError")
    } catch (error) {
      expect((error as ConfigError).issues).toEqual([
        { variable: "REDIS_URL", message: expect.stringContaining("like redis://redis:6379") },
      ])
      expect(JSON.stringify((error as ConfigError).issues)).not.toContain(REDIS_URL)
    }
  }
})
