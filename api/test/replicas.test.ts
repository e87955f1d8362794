// Two API replicas — two createApp instances on one database and one Redis — share the
// brute-force limits; while Redis is unreachable each counts alone (fail open, to the replica).
import { afterEach, expect, test } from "bun:test"
import { createLogger } from "@nps/log"
import { closedPort, openTestRedis, rawRedis, TEST_REDIS_URL, testPrefix } from "@nps/testing/redis"
import { startRelay } from "@nps/testing/relay"
import { describeEachDb, makeApp, req, seedServiceKey, seedUser } from "./helpers"

const minute = { windowMs: 60_000 }

const opened: { close(): void }[] = []
afterEach(() => {
  for (const item of opened.splice(0)) item.close()
})

if (TEST_REDIS_URL) {
  const target = new URL(TEST_REDIS_URL)

  describeEachDb("two API replicas sharing Redis", (ctx) => {
    /** Replicas on the test database, sharing one Redis namespace (a client each). */
    const replicas = (count: number, options: { url?: string; max?: number } = {}) => {
      const prefix = testPrefix()
      const max = options.max ?? 10
      return Array.from({ length: count }, () => {
        const lines: string[] = []
        const logger = createLogger({ service: "api", write: (line) => lines.push(line) })
        const redis = openTestRedis(logger, { prefix, url: options.url })
        opened.push(redis)
        const { app } = makeApp(ctx.db, {
          limits: {
            login: { max, ...minute },
            linkPerChat: { max, ...minute },
            linkTokensPerUser: { max, windowMs: 10 * minute.windowMs },
          },
          redis,
        })
        return { app, prefix, redisLog: () => lines.join("\n") }
      })
    }

    test("share the login limit: 10 attempts a minute per address across both, then 429 from either", async () => {
      await seedUser(ctx.db)
      const [a, b] = replicas(2)
      if (!a || !b) throw new Error("two replicas")
      const login = (replica: typeof a, password = "guess") =>
        req(replica.app, "POST", "/api/auth/login", { body: { username: "alice", password } })
      const statuses: number[] = []
      for (let i = 0; i < 10; i++) statuses.push((await login(i % 2 ? b : a)).status)
      expect(statuses).toEqual(Array(10).fill(401))
      const fromA = await login(a)
      const fromB = await login(b, "correct horse battery staple")
      expect([fromA.status, fromB.status]).toEqual([429, 429])
      expect(Number(fromB.headers.get("retry-after"))).toBeGreaterThan(0)
      expect(Number(fromB.headers.get("retry-after"))).toBeLessThanOrEqual(60)
    })

    test("share the link limit per chat, counted exactly under concurrent guesses", async () => {
      const svc = await seedServiceKey(ctx.db)
      const [a, b] = replicas(2)
      if (!a || !b) throw new Error("two replicas")
      const link = (replica: typeof a, chat: number) =>
        req(replica.app, "POST", "/api/telegram/link", {
          token: svc.key,
          body: { telegram_chat_id: chat, api_key: `nps_${"w".repeat(43)}` },
        })
      const answers = await Promise.all(
        Array.from({ length: 16 }, (_, i) => link(i % 2 ? b : a, 77)),
      )
      const count = (status: number) => answers.filter((r) => r.status === status).length
      expect([count(401), count(429)]).toEqual([10, 6])
      // Another chat has its own budget.
      expect((await link(b, 78)).status).toBe(401)
    })

    test("share the link-token limit per user: 10 in 10 minutes across both, then 429 from either", async () => {
      const alice = await seedUser(ctx.db)
      const [a, b] = replicas(2)
      if (!a || !b) throw new Error("two replicas")
      const answers = await Promise.all(
        Array.from({ length: 14 }, (_, i) =>
          req((i % 2 ? b : a).app, "POST", "/api/telegram/link-tokens", { token: alice.key }),
        ),
      )
      const count = (status: number) => answers.filter((r) => r.status === status).length
      expect([count(201), count(429)]).toEqual([10, 4])
      const limited = answers.find((r) => r.status === 429)
      expect(Number(limited?.headers.get("retry-after"))).toBeGreaterThan(540)
    })

    test("Redis unreachable: each replica counts alone, so logins keep working (at most replicas × the limit)", async () => {
      await seedUser(ctx.db)
      const [a, b] = replicas(2, { url: `redis://127.0.0.1:${closedPort()}`, max: 3 })
      if (!a || !b) throw new Error("two replicas")
      const login = (replica: typeof a, password = "guess") =>
        req(replica.app, "POST", "/api/auth/login", { body: { username: "alice", password } })
      for (let i = 0; i < 3; i++) expect((await login(a)).status).toBe(401)
      expect((await login(a)).status).toBe(429)
      for (let i = 0; i < 2; i++) expect((await login(b)).status).toBe(401)
      expect((await login(b, "correct horse battery staple")).status).toBe(200)
      expect((await login(b)).status).toBe(429)
      expect(a.redisLog()).toContain("Redis unavailable")
    })

    test("Redis going away mid-run: limits fall back to each replica, then are shared again", async () => {
      await seedUser(ctx.db)
      const relay = startRelay({ hostname: target.hostname, port: Number(target.port || 6379) })
      opened.push(relay)
      const [a, b] = replicas(2, { url: `redis://127.0.0.1:${relay.port}`, max: 3 })
      if (!a || !b) throw new Error("two replicas")
      const login = (replica: typeof a) =>
        req(replica.app, "POST", "/api/auth/login", {
          body: { username: "alice", password: "guess" },
        })
      for (const replica of [a, b, a]) expect((await login(replica)).status).toBe(401)
      expect((await login(b)).status).toBe(429) // shared: the 4th attempt, through B

      relay.close()
      // B's own memory counted only B's two attempts: served while Redis is away.
      expect((await login(b)).status).toBe(401)
      expect(b.redisLog()).toContain("Redis unavailable")

      relay.reopen()
      expect((await login(b)).status).toBe(429) // the shared window again
      expect(b.redisLog()).toContain("Redis available again")
      expect((await login(a)).status).toBe(429)
    })

    test("the bound holds across the switch both ways: no fresh window when Redis goes, or when it comes back empty", async () => {
      await seedUser(ctx.db)
      const relay = startRelay({ hostname: target.hostname, port: Number(target.port || 6379) })
      opened.push(relay)
      const [a] = replicas(1, { url: `redis://127.0.0.1:${relay.port}`, max: 5 })
      if (!a) throw new Error("one replica")
      const login = () =>
        req(a.app, "POST", "/api/auth/login", { body: { username: "alice", password: "guess" } })
      const statuses = async (n: number) => {
        const out: number[] = []
        for (let i = 0; i < n; i++) out.push((await login()).status)
        return out
      }
      // Redis up, then gone mid-burst: one replica, so 5 in all, never 5 more.
      expect(await statuses(3)).toEqual([401, 401, 401])
      relay.close()
      expect(await statuses(4)).toEqual([401, 401, 429, 429])
      // Back, but empty (a restart with nothing persisted): still limited.
      const raw = rawRedis()
      const keys = (await raw.send("KEYS", [`${a.prefix}*`])) as string[]
      if (keys.length) await raw.send("DEL", keys)
      raw.close()
      relay.reopen()
      expect(await statuses(3)).toEqual([429, 429, 429])
      expect(a.redisLog()).toContain("Redis available again")
    })
  })
}
