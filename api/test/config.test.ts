import { expect, test } from "bun:test"
import { ConfigError, databaseSecrets, loadConfig } from "../src/config"

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
  expect(() => loadConfig({ NODE_ENV: "production" })).toThrow(/JWT_SECRET/)
  expect(
    loadConfig({ NODE_ENV: "production", JWT_SECRET: "x".repeat(32) }).jwtSecretGenerated,
  ).toBe(false)
})

test("every bad variable is named, and no value is repeated", () => {
  const secretish = "nps_short"
  try {
    loadConfig({
      PORT: "eighty",
      DATABASE_URL: "mysql://x",
      TELEGRAM_BOT_SERVICE_KEY: secretish,
      LOG_LEVEL: "loud",
    })
    throw new Error("expected a ConfigError")
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    const text = (error as ConfigError).problems.join("\n")
    for (const name of ["PORT", "DATABASE_URL", "TELEGRAM_BOT_SERVICE_KEY", "LOG_LEVEL"])
      expect(text).toContain(name)
    expect(text).not.toContain(secretish)
  }
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

test("a database URL's password is a secret in raw and decoded form", () => {
  const url = "postgres://nps:p%40ss-w0rd@db:5432/nps"
  expect(databaseSecrets(url)).toEqual([url, "p%40ss-w0rd", "p@ss-w0rd"])
  expect(databaseSecrets("postgres://db/nps")).toEqual(["postgres://db/nps"])
  expect(databaseSecrets(undefined)).toEqual([])
})
