import { expect, test } from "bun:test"
import { DEFAULT_LIMITS } from "../src/context"
import { createRateLimiter } from "../src/rate-limit"
import { describeEachDb, makeApp, req, seedServiceKey, seedUser } from "./helpers"

const minute = { windowMs: 60_000 }

describeEachDb("brute-force limits", (ctx) => {
  test("login is limited per client address with 429 and Retry-After, then recovers", async () => {
    let clock = new Date("2026-01-01T00:00:00Z")
    const { app } = makeApp(ctx.db, { now: () => clock, limits: { login: { max: 3, ...minute } } })
    await seedUser(ctx.db)
    const attempt = () =>
      req(app, "POST", "/api/auth/login", { body: { username: "alice", password: "guess" } })
    for (let i = 0; i < 3; i++) expect((await attempt()).status).toBe(401)
    const limited = await attempt()
    expect(limited.status).toBe(429)
    expect(limited.body.error).toBe("rate_limited")
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0)
    clock = new Date(clock.getTime() + 61_000)
    expect((await attempt()).status).toBe(401)
  })

  test("link is limited per chat for the bot; requests failing authentication never spend a chat's budget", async () => {
    const { app } = makeApp(ctx.db, { limits: { linkPerChat: { max: 3, ...minute } } })
    const svc = await seedServiceKey(ctx.db)
    const mallory = await seedUser(ctx.db, { username: "mallory" })
    const alice = await seedUser(ctx.db)
    const link = (chat: number, token?: string, apiKey = `nps_${"w".repeat(43)}`) =>
      req(app, "POST", "/api/telegram/link", {
        token,
        body: { telegram_chat_id: chat, api_key: apiKey },
      })
    // Junk aimed at chat 10 — no credentials, bad credentials, a user's own key: refused before
    // the limiter, however many.
    for (let i = 0; i < 20; i++) {
      expect((await link(10)).status).toBe(401)
      expect((await link(10, "nps_not_a_real_key_at_all_1234")).status).toBe(401)
      expect((await link(10, mallory.key)).status).toBe(403)
    }
    // So the real user, through the bot, still links chat 10 at once.
    expect((await link(10, svc.key, alice.key)).status).toBe(200)
    // The bot links many chats from one address; one chat's guesses are capped at 3 a minute.
    for (const chat of [11, 12, 13, 14]) expect((await link(chat, svc.key)).status).toBe(401)
    expect((await link(11, svc.key)).status).toBe(401)
    expect((await link(11, svc.key)).status).toBe(401)
    const limited = await link(11, svc.key)
    expect(limited.status).toBe(429)
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0)
  })

  test("link tokens: 10 per user in 10 minutes, then 429 with Retry-After; other users unaffected; back after the window", async () => {
    let clock = new Date("2026-01-01T00:00:00Z")
    const { app } = makeApp(ctx.db, {
      now: () => clock,
      limits: { linkTokensPerUser: DEFAULT_LIMITS.linkTokensPerUser },
    })
    const alice = await seedUser(ctx.db)
    const bob = await seedUser(ctx.db, { username: "bob" })
    const newToken = (key: string) => req(app, "POST", "/api/telegram/link-tokens", { token: key })
    const statuses = await Promise.all(Array.from({ length: 12 }, () => newToken(alice.key)))
    expect(statuses.map((r) => r.status).sort()).toEqual([...Array(10).fill(201), 429, 429])
    const limited = await newToken(alice.key)
    expect(limited.status).toBe(429)
    expect(limited.body.error).toBe("rate_limited")
    const retryAfter = Number(limited.headers.get("retry-after"))
    expect(retryAfter).toBeGreaterThan(540)
    expect(retryAfter).toBeLessThanOrEqual(600)
    expect((await newToken(bob.key)).status).toBe(201)
    clock = new Date(clock.getTime() + 10 * 60_000 + 1000)
    expect((await newToken(alice.key)).status).toBe(201)
  })
})

test("the limiter's memory stays bounded however many clients it sees", () => {
  let t = 0
  const limiter = createRateLimiter({ max: 5, windowMs: 60_000 }, () => t, 1000)
  for (let i = 0; i < 50_000; i++) {
    limiter.hit(`client-${i}`)
    t += 1
  }
  expect(limiter.size).toBeLessThanOrEqual(1000)
})
