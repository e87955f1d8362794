import { expect, test } from "bun:test"
import { createDb, oracleProfiles } from "@nps/db"
import { startRelay } from "@nps/testing/relay"
import { sql } from "drizzle-orm"
import { hashApiKey } from "../src/credentials"
import { isDatabaseUnavailable } from "../src/errors"
import {
  makeApp,
  openTestDatabase,
  type Reply,
  req,
  SERVICE_KEY,
  seedServiceKey,
  seedUser,
} from "./helpers"

test("an unreachable database gives 503 on health and on data endpoints, never 500", async () => {
  // Nothing listens on port 1: every connection is refused.
  const { db, close } = await createDb({
    url: "postgres://postgres@127.0.0.1:1/nps",
    max: 1,
    queryTimeoutMs: 3_000,
  })
  try {
    const { app, logText, lines } = makeApp(db)
    const health = await req(app, "GET", "/api/health")
    expect(health.status).toBe(503)
    expect(health.body.error).toBe("database_unavailable")
    const status = await req(app, "GET", "/api/telegram/status/1", { token: SERVICE_KEY })
    expect(status.status).toBe(503)
    const link = await req(app, "POST", "/api/telegram/link", {
      token: SERVICE_KEY,
      body: { telegram_chat_id: 1, api_key: SERVICE_KEY },
    })
    expect(link.status).toBe(503)
    // The key, and its hash (a bound value of the failed lookup), never reach a log line.
    for (const text of [link.text, logText()]) {
      expect(text).not.toContain(SERVICE_KEY)
      expect(text).not.toContain(hashApiKey(SERVICE_KEY))
    }
    // One line says the database is unavailable; no error line per request, no stack.
    const errors = lines.map((l) => JSON.parse(l)).filter((r) => r.level === "error")
    expect(errors.map((r) => r.msg)).toEqual([
      "database unavailable: answering 503 until it is back",
    ])
    expect(errors[0].error).toMatchObject({ code: expect.any(String), message: expect.any(String) })
    expect(JSON.stringify(errors[0])).not.toMatch(/stack|params|Failed query/)
  } finally {
    await close()
  }
})

test("a closed embedded database: 503, and the failed lookup's bound values (a key's hash) are never logged", async () => {
  const { db, close } = await createDb({ memory: true })
  const { app, logText } = makeApp(db)
  await close()
  const status = await req(app, "GET", "/api/telegram/status/1", { token: SERVICE_KEY })
  expect(status.status).toBe(503)
  for (const text of [status.text, logText()]) {
    expect(text).not.toContain(SERVICE_KEY)
    expect(text).not.toContain(hashApiKey(SERVICE_KEY))
    expect(text).not.toMatch(/params|Failed query/)
  }
  expect(logText()).toContain("PGlite is closed")
})

// Needs a real Postgres behind the relay; registered only when one is configured.
if (process.env.TEST_DATABASE_URL) {
  test("[postgres] database frozen: every request answers 503 while it is silent, then the API recovers by itself", async () => {
    const real = await openTestDatabase("postgres")
    const url = new URL(real.url as string)
    const relay = startRelay({ hostname: url.hostname, port: Number(url.port || 5432) })
    const viaRelay = new URL(url)
    viaRelay.hostname = "127.0.0.1"
    viaRelay.port = String(relay.port)
    const database = await createDb({ url: viaRelay.toString(), max: 4, queryTimeoutMs: 3_000 })
    try {
      const { app, lines } = makeApp(database.db, { dbStats: database.stats })
      const svc = await seedServiceKey(real.db)
      const alice = await seedUser(real.db)
      const calls: [string, string, { token?: string; body?: unknown }][] = [
        ["GET", "/api/health", {}],
        ["GET", "/api/telegram/status/42", { token: svc.key }],
        ["GET", "/api/telegram/profile/42", { token: svc.key }],
        ["GET", "/api/oracle/profiles", { token: alice.key }],
        [
          "POST",
          "/api/oracle/profiles",
          { token: alice.key, body: { name: "X", birthday: "1990-01-02" } },
        ],
        ["POST", "/api/auth/login", { body: { username: "alice", password: alice.password } }],
        [
          "POST",
          "/api/telegram/link",
          { token: svc.key, body: { telegram_chat_id: 42, api_key: alice.key } },
        ],
        ["GET", "/api/auth/me", { token: alice.key }],
      ]
      const timed = async ([method, path, options]: (typeof calls)[number]) => {
        const started = performance.now()
        const reply: Reply = await req(app, method, path, options)
        return {
          call: `${method} ${path}`,
          status: reply.status,
          ms: Math.round(performance.now() - started),
          reply,
        }
      }
      expect((await req(app, "GET", "/api/health")).status).toBe(200)
      expect((await req(app, "GET", "/api/telegram/status/42", { token: svc.key })).status).toBe(
        200,
      )

      relay.freeze()
      // Every call, twice over (more than the pool's 4 connections), answers while the
      // database is still frozen: nothing waits for it to come back.
      const frozen = await Promise.all([...calls, ...calls].map(timed))
      for (const r of frozen) {
        expect({ call: r.call, status: r.status }).toEqual({ call: r.call, status: 503 })
        expect(r.reply.body.error).toBe("database_unavailable")
      }
      relay.thaw()
      const thawed = []
      for (const call of calls) thawed.push(await timed(call))
      expect(thawed.map((r) => r.status)).toEqual([200, 200, 404, 200, 200, 200, 200, 200])
      // The profile whose request got a 503 was never written; only the one after the thaw.
      expect(await real.db.select().from(oracleProfiles)).toHaveLength(1)

      relay.cut()
      const cut = await Promise.all(calls.slice(0, 2).map(timed))
      const afterCut = await Promise.all(calls.slice(0, 2).map(timed))
      relay.close()
      const refused = await Promise.all(calls.slice(0, 2).map(timed))
      relay.reopen()
      const reopened = await Promise.all(calls.slice(0, 2).map(timed))
      for (const r of refused) expect(r.status).toBe(503)
      for (const r of reopened) expect(r.status).toBe(200)
      // A cut connection fails the query on it (503) or is replaced before use (200).
      for (const r of [...cut, ...afterCut]) expect([200, 503]).toContain(r.status)
      expect(afterCut.map((r) => r.status)).toEqual([200, 200])

      const messages = lines.map((l) => JSON.parse(l)).filter((r) => r.level !== "debug")
      expect(messages.filter((r) => r.level === "error").length).toBeLessThanOrEqual(3)
      expect(messages.map((r) => r.msg)).toContain("database available again")
      expect(JSON.stringify(messages)).not.toContain(hashApiKey(alice.key))

      // For the record (the drill's numbers; timing is never asserted).
      const table = (label: string, rows: { call: string; status: number; ms: number }[]) =>
        rows.map(
          (r) =>
            `${label.padEnd(8)} ${r.call.padEnd(32)} ${r.status} ${String(r.ms).padStart(5)} ms`,
        )
      console.info(
        [
          "frozen-database drill (query deadline 3000 ms, pool of 4):",
          ...table("frozen", frozen),
          ...table("thawed", thawed),
          ...table("cut", cut),
          ...table("after", afterCut),
          ...table("refused", refused),
          ...table("back", reopened),
        ].join("\n"),
      )
    } finally {
      relay.close()
      await database.close()
      await real.close()
    }
  }, 60_000)

  test("[postgres] a transaction whose database goes silent mid-way fails at the deadline (503), then the pool recovers", async () => {
    const real = await openTestDatabase("postgres")
    const url = new URL(real.url as string)
    const relay = startRelay({ hostname: url.hostname, port: Number(url.port || 5432) })
    const viaRelay = new URL(url)
    viaRelay.hostname = "127.0.0.1"
    viaRelay.port = String(relay.port)
    const database = await createDb({ url: viaRelay.toString(), max: 2, queryTimeoutMs: 1_000 })
    try {
      const failed = await database.db
        .transaction(async (tx) => {
          await tx.execute(sql`select 1`)
          relay.freeze()
          await tx.execute(sql`select 2`)
        })
        .then(
          () => undefined,
          (error: unknown) => error,
        )
      // Rejected while the database is still frozen, as unavailable: the API answers 503.
      expect(isDatabaseUnavailable(failed)).toBe(true)
      relay.thaw()
      const rows = (await database.db.execute(sql`select 1 as ok`)) as unknown as { ok: number }[]
      expect(rows[0]?.ok).toBe(1)
    } finally {
      relay.close()
      await database.close()
      await real.close()
    }
  }, 30_000)
}
