// One-tap linking (link tokens), the caller's own list of chats, and the bot's bookkeeping of
// blocked and migrated chats — on both databases, through real HTTP handling.
import { beforeEach, expect, test } from "bun:test"
import { telegramLinks, telegramLinkTokens } from "@nps/db"
import { createLogger, redact } from "@nps/log"
import { eq } from "drizzle-orm"
import { deactivateUser } from "../src/modules/auth/service"
import { linkTokenSweep } from "../src/modules/telegram/service"
import { createSweeper } from "../src/sweeper"
import { describeEachDb, makeApp, req, seedServiceKey, seedUser, testConfig } from "./helpers"

const TOKEN_SHAPE = /^[A-Za-z0-9_-]{1,64}$/
const quiet = createLogger({ service: "api", write: () => {} })
const sha256 = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest("hex")
type App = ReturnType<typeof makeApp>["app"]

describeEachDb("link tokens", (ctx) => {
  let svc: Awaited<ReturnType<typeof seedServiceKey>>
  beforeEach(async () => {
    svc = await seedServiceKey(ctx.db)
  })

  const login = async (app: App, username: string, password: string) =>
    (await req(app, "POST", "/api/auth/login", { body: { username, password } })).body
      .access_token as string
  const newToken = (app: App, token: string) =>
    req(app, "POST", "/api/telegram/link-tokens", { token })
  const redeem = (app: App, token: string, chatId: number, username: string | null = null) =>
    req(app, "POST", "/api/telegram/link-tokens/redeem", {
      token: svc.key,
      body: { token, telegram_chat_id: chatId, telegram_username: username },
    })

  test("a user's JWT or key gets a one-time token and its t.me link, stored only as a hash", async () => {
    const clock = new Date("2026-03-01T12:00:00Z")
    const { app } = makeApp(ctx.db, {
      now: () => clock,
      config: testConfig({ TELEGRAM_BOT_USERNAME: "@NpsOracleBot" }),
    })
    const alice = await seedUser(ctx.db)
    for (const credential of [alice.key, await login(app, "alice", alice.password)]) {
      const res = await newToken(app, credential)
      expect(res.status).toBe(201)
      expect(Object.keys(res.body).sort()).toEqual(["expires_at", "token", "url"])
      expect(res.body.token).toMatch(TOKEN_SHAPE)
      expect(res.body.url).toBe(`https://t.me/NpsOracleBot?start=${res.body.token}`)
      expect(res.body.expires_at).toBe("2026-03-01T12:10:00.000Z")
      const [row] = await ctx.db
        .select()
        .from(telegramLinkTokens)
        .where(eq(telegramLinkTokens.tokenHash, sha256(res.body.token)))
      expect(row?.userId).toBe(alice.user.id)
      expect(JSON.stringify(await ctx.db.select().from(telegramLinkTokens))).not.toContain(
        res.body.token,
      )
    }
    // Two tokens, each unique.
    expect(await ctx.db.select().from(telegramLinkTokens)).toHaveLength(2)
    expect((await req(app, "POST", "/api/telegram/link-tokens")).status).toBe(401)
  })

  test("without TELEGRAM_BOT_USERNAME the url is null", async () => {
    const { app } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db)
    const res = await newToken(app, alice.key)
    expect(res.status).toBe(201)
    expect(res.body.url).toBeNull()
    expect(res.body.token).toMatch(TOKEN_SHAPE)
  })

  test("key creation no longer carries a telegram_deep_link", async () => {
    const { app } = makeApp(ctx.db, {
      config: testConfig({ TELEGRAM_BOT_USERNAME: "NpsOracleBot" }),
    })
    const alice = await seedUser(ctx.db)
    const jwt = await login(app, "alice", alice.password)
    const created = await req(app, "POST", "/api/auth/api-keys", {
      token: jwt,
      body: { name: "phone" },
    })
    expect(Object.keys(created.body).sort()).toEqual(["id", "key", "prefix", "scopes"])
  })

  test("the bot redeems a token once: the chat is linked to the token's user, then the token is spent", async () => {
    const { app, logText } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db)
    const { token } = (await newToken(app, alice.key)).body
    const res = await redeem(app, token, 4242, "alice_tg")
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({
      telegram_chat_id: 4242,
      telegram_username: "alice_tg",
      user_id: alice.user.id,
      username: "alice",
      role: "user",
      is_active: true,
    })
    const again = await redeem(app, token, 4243)
    expect(again.status).toBe(404)
    expect(again.body.error).toBe("invalid_token")
    const [spent] = await ctx.db.select().from(telegramLinkTokens)
    expect(spent?.usedAt).not.toBeNull()
    expect(spent?.telegramChatId).toBe(4242)
    expect(await ctx.db.select().from(telegramLinks)).toHaveLength(1)
    // Neither the answers nor the log ever carry the token.
    expect(res.text + again.text + logText()).not.toContain(token)
  })

  test("unknown and malformed tokens are refused without echoing them", async () => {
    const { app, logText } = makeApp(ctx.db)
    const unknown = `npslink_${"u".repeat(43)}`
    const res = await redeem(app, unknown, 1)
    expect(res.status).toBe(404)
    expect(res.body).toEqual({
      error: "invalid_token",
      message: "This link token is unknown, expired or already used",
    })
    for (const malformed of ["", "a b", "x".repeat(65), "tok€n"]) {
      const bad = await redeem(app, malformed, 1)
      expect(bad.status).toBe(422)
      expect(bad.body.message).toContain("token")
      if (malformed) expect(bad.text).not.toContain(malformed)
    }
    expect(logText()).not.toContain(unknown)
    expect(await ctx.db.select().from(telegramLinks)).toHaveLength(0)
  })

  test("a token expires 10 minutes after it was made", async () => {
    let clock = new Date("2026-03-01T12:00:00Z")
    const { app } = makeApp(ctx.db, { now: () => clock })
    const alice = await seedUser(ctx.db)
    const early = (await newToken(app, alice.key)).body.token
    const late = (await newToken(app, alice.key)).body.token
    clock = new Date("2026-03-01T12:09:59Z")
    expect((await redeem(app, early, 1)).status).toBe(200)
    clock = new Date("2026-03-01T12:10:00Z")
    const expired = await redeem(app, late, 2)
    expect(expired.status).toBe(404)
    expect(expired.body.error).toBe("invalid_token")
    // The background sweeper (never a request) deletes expired tokens, used ones included.
    await createSweeper({
      db: ctx.db,
      logger: quiet,
      sweeps: [linkTokenSweep],
      now: () => clock,
    }).runOnce()
    const hashes = (await ctx.db.select().from(telegramLinkTokens)).map((r) => r.tokenHash)
    expect(hashes).not.toContain(sha256(late))
    expect(hashes).not.toContain(sha256(early))
  })

  test("20 concurrent redeems of one token from 20 chats link exactly one chat", async () => {
    const { app } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db)
    const { token } = (await newToken(app, alice.key)).body
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => redeem(app, token, 9_000 + i)),
    )
    const statuses = results.map((r) => r.status).sort()
    expect(statuses).toEqual([200, ...Array(19).fill(404)])
    const winner = results.find((r) => r.status === 200)?.body.telegram_chat_id
    const rows = await ctx.db.select().from(telegramLinks)
    expect(rows.map((r) => r.telegramChatId)).toEqual([winner])
  })

  test("only the bot may redeem", async () => {
    const { app } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db)
    const mallory = await seedUser(ctx.db, { username: "mallory" })
    const { token } = (await newToken(app, alice.key)).body
    const body = { token, telegram_chat_id: 66 }
    const path = "/api/telegram/link-tokens/redeem"
    expect((await req(app, "POST", path, { body })).status).toBe(401)
    expect((await req(app, "POST", path, { body, token: mallory.key })).status).toBe(403)
    expect((await req(app, "POST", path, { body, token: alice.key })).status).toBe(403)
    expect(await ctx.db.select().from(telegramLinks)).toHaveLength(0)
    expect((await redeem(app, token, 66)).status).toBe(200) // still unspent
  })

  test("a deactivated user's token links nothing and stays unspent", async () => {
    const { app } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db)
    const { token } = (await newToken(app, alice.key)).body
    await deactivateUser(ctx.db, "alice")
    const res = await redeem(app, token, 5)
    expect(res.status).toBe(404)
    expect(res.body.error).toBe("user_inactive")
    expect(await ctx.db.select().from(telegramLinks)).toHaveLength(0)
    const [row] = await ctx.db.select().from(telegramLinkTokens)
    expect(row?.usedAt).toBeNull()
  })

  test("the log scrubber recognises link tokens", () => {
    const token = `npslink_${"Z".repeat(43)}`
    expect(redact(`/start ${token}`)).toBe("/start npslink_[REDACTED]")
  })
})

describeEachDb("the caller's chats, blocked and migrated chats", (ctx) => {
  let svc: Awaited<ReturnType<typeof seedServiceKey>>
  beforeEach(async () => {
    svc = await seedServiceKey(ctx.db)
  })
  const link = (app: App, apiKey: string, chatId: number) =>
    req(app, "POST", "/api/telegram/link", {
      token: svc.key,
      body: { telegram_chat_id: chatId, telegram_username: `tg${chatId}`, api_key: apiKey },
    })
  const links = async (app: App, token: string) =>
    (await req(app, "GET", "/api/telegram/links", { token })).body
  const setBlocked = (app: App, chatId: number, blocked: boolean, token = svc.key) =>
    req(app, "PUT", `/api/telegram/chats/${chatId}/blocked`, { token, body: { blocked } })
  const migrate = (app: App, from: number, to: number, token = svc.key) =>
    req(app, "POST", `/api/telegram/chats/${from}/migration`, { token, body: { to_chat_id: to } })
  const status = async (app: App, chatId: number) =>
    (await req(app, "GET", `/api/telegram/status/${chatId}`, { token: svc.key })).body

  test("GET /links lists the caller's own chats with is_active and blocked", async () => {
    let clock = new Date("2026-04-01T08:00:00Z")
    const { app } = makeApp(ctx.db, { now: () => clock })
    const alice = await seedUser(ctx.db)
    const bob = await seedUser(ctx.db, { username: "bob" })
    await link(app, alice.key, 1)
    clock = new Date("2026-04-01T09:00:00Z")
    await link(app, alice.key, -1001234567890)
    await link(app, bob.key, 3)
    await req(app, "DELETE", "/api/telegram/link/1", { token: alice.key })
    await setBlocked(app, -1001234567890, true)

    expect(await links(app, alice.key)).toEqual([
      {
        telegram_chat_id: 1,
        telegram_username: "tg1",
        linked_at: "2026-04-01T08:00:00.000Z",
        last_active: "2026-04-01T08:00:00.000Z",
        is_active: false,
        blocked: false,
      },
      {
        telegram_chat_id: -1001234567890,
        telegram_username: "tg-1001234567890",
        linked_at: "2026-04-01T09:00:00.000Z",
        last_active: "2026-04-01T09:00:00.000Z",
        is_active: true,
        blocked: true,
      },
    ])
    const jwt = (
      await req(app, "POST", "/api/auth/login", {
        body: { username: "bob", password: bob.password },
      })
    ).body.access_token
    expect(
      (await links(app, jwt)).map((l: { telegram_chat_id: number }) => l.telegram_chat_id),
    ).toEqual([3])
    expect(await links(app, svc.key)).toEqual([])
    expect((await req(app, "GET", "/api/telegram/links")).status).toBe(401)
  })

  test("blocked → unblocked round trip; blocked chats still answer /status, which clears the mark", async () => {
    let clock = new Date("2026-04-01T08:00:00Z")
    const { app } = makeApp(ctx.db, { now: () => clock })
    const alice = await seedUser(ctx.db)
    await link(app, alice.key, 7)
    const blocked = await setBlocked(app, 7, true)
    expect(blocked.status).toBe(200)
    expect(blocked.body).toEqual({ telegram_chat_id: 7, is_active: true, blocked: true })
    const blockedAt = async () =>
      (await ctx.db.select().from(telegramLinks).where(eq(telegramLinks.telegramChatId, 7)))[0]
        ?.blockedAt
    expect((await blockedAt())?.toISOString()).toBe("2026-04-01T08:00:00.000Z")
    clock = new Date("2026-04-01T08:05:00Z")
    await setBlocked(app, 7, true) // reported again (a 403 after my_chat_member): keeps the first time
    expect((await blockedAt())?.toISOString()).toBe("2026-04-01T08:00:00.000Z")
    expect((await setBlocked(app, 7, false)).body.blocked).toBe(false)
    expect(await blockedAt()).toBeNull()

    await setBlocked(app, 7, true)
    expect((await status(app, 7)).linked).toBe(true)
    expect((await links(app, alice.key))[0].blocked).toBe(false)

    // Relinking from the chat clears it too: the user is evidently talking to the bot.
    await setBlocked(app, 7, true)
    await link(app, alice.key, 7)
    expect((await links(app, alice.key))[0].blocked).toBe(false)
  })

  test("blocking an unlinked chat is 404 not_linked; only the bot may report it", async () => {
    const { app } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db)
    await link(app, alice.key, 8)
    const missing = await setBlocked(app, 99, true)
    expect(missing.status).toBe(404)
    expect(missing.body.error).toBe("not_linked")
    expect((await setBlocked(app, 8, true, alice.key)).status).toBe(403)
    expect(
      (await req(app, "PUT", "/api/telegram/chats/8/blocked", { body: { blocked: true } })).status,
    ).toBe(401)
    expect((await setBlocked(app, 8, "yes" as unknown as boolean)).status).toBe(422)
    expect((await links(app, alice.key))[0].blocked).toBe(false)
  })

  test("a group that became a supergroup keeps its link under the new id, idempotently", async () => {
    const { app } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db)
    const group = -4000000000000
    const supergroup = -1009876543210
    await link(app, alice.key, group)
    await setBlocked(app, group, true)
    const moved = await migrate(app, group, supergroup)
    expect(moved.status).toBe(200)
    expect(moved.body).toEqual({ telegram_chat_id: supergroup, is_active: true, blocked: false })
    expect(await status(app, group)).toEqual({ linked: false })
    expect((await status(app, supergroup)).username).toBe("alice")
    // Reported again (from the supergroup's own service message, or a send's 400): same answer.
    expect((await migrate(app, group, supergroup)).body).toEqual(moved.body)
    const rows = await ctx.db.select().from(telegramLinks)
    expect(rows.map((r) => [r.telegramChatId, r.userId, r.telegramUsername])).toEqual([
      [supergroup, alice.user.id, `tg${group}`],
    ])
    expect((await migrate(app, -1, -1001)).status).toBe(404)
    expect((await migrate(app, group, supergroup, alice.key)).status).toBe(403)
  })

  test("when the supergroup was already linked on its own, that link stands and the old one retires", async () => {
    const { app } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db)
    const bob = await seedUser(ctx.db, { username: "bob" })
    await link(app, alice.key, -5)
    await link(app, bob.key, -1005)
    const res = await migrate(app, -5, -1005)
    expect(res.body).toEqual({ telegram_chat_id: -1005, is_active: true, blocked: false })
    expect((await status(app, -1005)).username).toBe("bob")
    expect(await status(app, -5)).toEqual({ linked: false })
  })
})
