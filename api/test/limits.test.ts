import { expect, test } from "bun:test"
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

  test("link is limited per chat, and per address unless the caller holds the service key", async () => {
    const { app } = makeApp(ctx.db, {
      limits: { link: { max: 2, ...minute }, linkPerChat: { max: 3, ...minute } },
    })
    const svc = await seedServiceKey(ctx.db)
    const link = (chat: number, token?: string) =>
      req(app, "POST", "/api/telegram/link", {
        token,
        body: { telegram_chat_id: chat, api_key: `nps_${"w".repeat(43)}` },
      })
    // Anonymous: the per-address budget (2) runs out first.
    expect((await link(1)).status).toBe(401)
    expect((await link(2)).status).toBe(401)
    expect((await link(3)).status).toBe(429)
    // The bot: many chats from one address pass; a single chat is still capped at 3.
    for (const chat of [10, 11, 12, 13]) expect((await link(chat, svc.key)).status).toBe(401)
    expect((await link(10, svc.key)).status).toBe(401)
    expect((await link(10, svc.key)).status).toBe(401)
    expect((await link(10, svc.key)).status).toBe(429)
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
