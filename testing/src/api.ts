// Shared test plumbing: a real database per test file (PGlite in memory, plus a throwaway
// Postgres database when TEST_DATABASE_URL is set), the real app, and small request helpers.
import { afterAll, beforeAll, beforeEach, describe } from "bun:test"
import { type Database, type Db, oracleProfiles, readings } from "@nps/db"
import { createLogger } from "@nps/log"
import { sql } from "drizzle-orm"
import { type AppOptions, createApp } from "../../api/src/app"
import { loadConfig } from "../../api/src/config"
import type { Scope } from "../../api/src/credentials"
import { createUser, type Role } from "../../api/src/modules/auth/service"
import { createKey } from "../../api/src/modules/keys/service"
import { type Driver, drivers, openTestDatabase } from "./database"

export { type Driver, drivers, openTestDatabase }

export const resetDatabase = (db: Db) =>
  db.execute(
    sql`truncate users, api_keys, oracle_profiles, readings, telegram_links, telegram_link_tokens, notifications, notification_deliveries, webhook_endpoints, webhook_messages, user_preferences restart identity cascade`,
  )

/**
 * Runs `body` once per available driver, each in its own describe block with its own database,
 * truncated before every test.
 */
export function describeEachDb(
  name: string,
  body: (ctx: { readonly db: Db; readonly driver: Driver }) => void,
) {
  for (const driver of drivers()) {
    describe(`${name} [${driver}]`, () => {
      let database: Database | undefined
      const ctx = {
        driver,
        get db(): Db {
          if (!database) throw new Error("database not open yet")
          return database.db
        },
      }
      beforeAll(async () => {
        database = await openTestDatabase(driver)
      })
      afterAll(async () => {
        await database?.close()
      })
      beforeEach(async () => {
        if (database) await resetDatabase(database.db)
      })
      body(ctx)
    })
  }
}

export const TEST_JWT_SECRET = "test-secret-0123456789abcdefghijkl"
export const SERVICE_KEY = `nps_${"s".repeat(43)}`

export const testConfig = (env: Record<string, string> = {}) =>
  loadConfig({ NODE_ENV: "test", JWT_SECRET: TEST_JWT_SECRET, ...env })

/**
 * The real app with a logger whose lines are kept for assertions. The request log line (and
 * the metrics) are written after the response is sent: `logged(n)` waits for the n-th one.
 */
export function makeApp(db: Db, options: Partial<AppOptions> = {}) {
  const lines: string[] = []
  let requests = 0
  const waiters: { n: number; resolve: () => void }[] = []
  const logger = createLogger({
    service: "api",
    level: "debug",
    write: (line) => {
      lines.push(line)
      if (!line.includes('"msg":"request"')) return
      requests++
      for (const w of waiters.filter((w) => w.n <= requests)) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve()
      }
    },
  })
  const logged = (n: number) =>
    n <= requests ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve }))
  const app = createApp({
    db,
    config: testConfig(),
    logger,
    // Brute-force limits get their own tests; elsewhere they must not interfere.
    limits: {
      login: { max: 1000, windowMs: 60_000 },
      linkPerChat: { max: 1000, windowMs: 60_000 },
      linkTokensPerUser: { max: 1000, windowMs: 60_000 },
    },
    ...options,
  })
  return { app, lines, logged, logText: () => lines.join("\n") }
}

export interface Reply {
  status: number
  text: string
  // biome-ignore lint/suspicious/noExplicitAny: tests inspect arbitrary JSON
  body: any
  headers: Headers
}

type Handler = { handle(request: Request): Promise<Response> }

export async function req(
  app: Handler,
  method: string,
  path: string,
  options: {
    body?: unknown
    raw?: string
    token?: string
    headers?: Record<string, string>
    signal?: AbortSignal
  } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers }
  if (options.token) headers.authorization = `Bearer ${options.token}`
  let body: string | undefined
  if (options.raw !== undefined || options.body !== undefined) {
    headers["content-type"] ??= "application/json"
    body = options.raw ?? JSON.stringify(options.body)
  }
  const response = await app.handle(
    new Request(`http://localhost${path}`, { method, headers, body, signal: options.signal }),
  )
  const text = await response.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {}
  return { status: response.status, text, body: parsed, headers: response.headers }
}

/** A user with one API key; password "correct horse battery staple". */
export async function seedUser(
  db: Db,
  {
    username = "alice",
    role = "user",
    scopes,
  }: { username?: string; role?: Role; scopes?: Scope[] } = {},
) {
  const password = "correct horse battery staple"
  const user = await createUser(db, { username, password, role })
  const key = await createKey(db, {
    userId: user.id,
    name: "test",
    scopes: scopes ?? ["oracle:read", "oracle:write"],
  })
  return { user, password, key: key.key, keyId: key.id }
}

export async function seedServiceKey(db: Db) {
  return seedUser(db, { username: "telegram-bot", scopes: ["telegram:service"] })
}

export async function seedProfiles(
  db: Db,
  userId: string,
  profiles: { name: string; birthday: string }[],
) {
  await db.insert(oracleProfiles).values(profiles.map((p) => ({ ...p, userId })))
}

export async function seedReadings(db: Db, userId: string, count: number) {
  await db
    .insert(readings)
    .values(Array.from({ length: count }, (_, i) => ({ userId, question: `q${i}` })))
}
