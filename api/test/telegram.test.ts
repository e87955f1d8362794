import { beforeEach, expect, test } from "bun:test"
import { telegramLinks } from "@nps/db"
import { eq } from "drizzle-orm"
import {
  describeEachDb,
  makeApp,
  req,
  seedProfiles,
  seedReadings,
  seedServiceKey,
  seedUser,
} from "./helpers"

const CHAT = 12345

describeEachDb("telegram links", (ctx) => {
  let svc: Awaited<ReturnType<typeof seedServiceKey>>
  beforeEach(async () => {
    svc = await seedServiceKey(ctx.db)
  })

  /** What the bot does for `/link <apiKey>` sent from `chatId`. */
  const link = (
    app: ReturnType<typeof makeApp>["app"],
    apiKey: string,
    chatId = CHAT,
    username: string | null = "alice_tg",
  ) =>
    req(app, "POST", "/api/telegram/link", {
      token: svc.key,
      body: { telegram_chat_id: chatId, telegram_username: username, api_key: apiKey },
    })

  test("links a chat with a valid API key", async () => {
    const { app } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db)
    const res = await link(app, alice.key)
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({
      telegram_chat_id: CHAT,
      telegram_username: "alice_tg",
      user_id: alice.user.id,
      username: "alice",
      role: "user",
      is_active: true,
    })
    expect(Number.isNaN(Date.parse(res.body.linked_at))).toBe(false)
    const rows = await ctx.db.select().from(telegramLinks)
    expect(rows).toHaveLength(1)
    expect(rows[0]?.lastActive).not.toBeNull()
  })

  test("only the bot links: a user's own key, a JWT (even an admin's) or no credentials cannot link any chat", async () => {
    const { app } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db)
    const mallory = await seedUser(ctx.db, { username: "mallory", role: "admin" })
    expect((await link(app, alice.key)).status).toBe(200)
    // The old hijack: Mallory takes Alice's chat (its id is no secret) with her own valid key.
    const hijack = (token?: string) =>
      req(app, "POST", "/api/telegram/link", {
        token,
        body: { telegram_chat_id: CHAT, api_key: mallory.key },
      })
    const { token: jwt } = await login(app, "mallory", mallory.password)
    expect((await hijack()).status).toBe(401)
    expect((await hijack(mallory.key)).body).toEqual({
      error: "forbidden",
      message: "This credential lacks the 'telegram:service' scope",
    })
    expect((await hijack(jwt)).status).toBe(403)
    // Nor a fresh chat of her choosing.
    const other = await req(app, "POST", "/api/telegram/link", {
      token: mallory.key,
      body: { telegram_chat_id: 777, api_key: mallory.key },
    })
    expect(other.status).toBe(403)
    const rows = await ctx.db.select().from(telegramLinks)
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({ telegramChatId: CHAT, userId: alice.user.id, isActive: true })
  })

  test("rejects an unknown, revoked or expired key with 401", async () => {
    const { app } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db)
    expect((await link(app, `nps_${"x".repeat(43)}`)).body).toEqual({
      error: "invalid_api_key",
      message: "Invalid API key",
    })
    const { token } = await login(app, "alice", alice.password)
    const expiring = await req(app, "POST", "/api/auth/api-keys", {
      token,
      body: { name: "soon", expires_days: 1 },
    })
    const later = makeApp(ctx.db, { now: () => new Date(Date.now() + 2 * 86_400_000) })
    expect((await link(later.app, expiring.body.key)).status).toBe(401)
    await req(app, "DELETE", `/api/auth/api-keys/${alice.keyId}`, { token })
    expect((await link(app, alice.key)).status).toBe(401)
    expect(await ctx.db.select().from(telegramLinks)).toHaveLength(0)
  })

  test("answers 404 for a key whose user is inactive", async () => {
    const { app } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db)
    const { deactivateUser } = await import("../src/modules/auth/service")
    await deactivateUser(ctx.db, "alice")
    const res = await link(app, alice.key)
    expect(res.status).toBe(404)
    expect(res.body.error).toBe("user_inactive")
  })

  test("relinking the same chat updates the one row (upsert), even to another user", async () => {
    const { app } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db)
    const bob = await seedUser(ctx.db, { username: "bob" })
    await link(app, alice.key)
    const res = await link(app, bob.key, CHAT, "bob_tg")
    expect(res.status).toBe(200)
    expect(res.body.username).toBe("bob")
    const rows = await ctx.db.select().from(telegramLinks)
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({
      userId: bob.user.id,
      telegramUsername: "bob_tg",
      isActive: true,
    })
  })

  test("one account may be linked from several chats", async () => {
    const { app } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db)
    await link(app, alice.key, 1)
    await link(app, alice.key, 2)
    expect(await ctx.db.select().from(telegramLinks)).toHaveLength(2)
  })

  test("50 concurrent links of one chat all succeed and leave one row", async () => {
    const { app } = makeApp(ctx.db)
    const users = await Promise.all([seedUser(ctx.db), seedUser(ctx.db, { username: "bob" })])
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => link(app, (users[i % 2] as (typeof users)[0]).key)),
    )
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(200))
    expect(await ctx.db.select().from(telegramLinks)).toHaveLength(1)
  })

  test("status of a linked chat has the username, role and both counts as numbers", async () => {
    const { app } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db, { role: "admin" })
    await seedProfiles(ctx.db, alice.user.id, [
      { name: "Me", birthday: "1990-01-02" },
      { name: "Mum", birthday: "1960-03-04" },
    ])
    await seedReadings(ctx.db, alice.user.id, 3)
    await link(app, alice.key)
    const res = await req(app, "GET", `/api/telegram/status/${CHAT}`, { token: svc.key })
    expect(res.status).toBe(200)
    expect(res.body).toEqual({
      linked: true,
      username: "alice",
      role: "admin",
      oracle_profile_count: 2,
      reading_count: 3,
    })
  })

  test("status of an unknown chat is {linked: false}", async () => {
    const { app } = makeApp(ctx.db)
    const res = await req(app, "GET", "/api/telegram/status/999", { token: svc.key })
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ linked: false })
  })

  test("each service call for a linked chat updates last_active", async () => {
    let clock = new Date("2026-01-01T00:00:00Z")
    const { app } = makeApp(ctx.db, { now: () => clock })
    const alice = await seedUser(ctx.db)
    await link(app, alice.key)
    const lastActive = async () =>
      (await ctx.db.select().from(telegramLinks))[0]?.lastActive?.toISOString()
    expect(await lastActive()).toBe("2026-01-01T00:00:00.000Z")
    clock = new Date("2026-01-02T00:00:00Z")
    await req(app, "GET", `/api/telegram/status/${CHAT}`, { token: svc.key })
    expect(await lastActive()).toBe("2026-01-02T00:00:00.000Z")
    clock = new Date("2026-01-03T00:00:00Z")
    await req(app, "GET", `/api/telegram/profile/${CHAT}`, { token: svc.key })
    expect(await lastActive()).toBe("2026-01-03T00:00:00.000Z")
  })

  test("last_active moves at most once a minute, whatever the number of calls", async () => {
    const start = new Date("2026-01-01T00:00:00Z").getTime()
    let clock = new Date(start)
    const { app } = makeApp(ctx.db, { now: () => clock })
    const alice = await seedUser(ctx.db)
    await link(app, alice.key)
    const lastActive = async () =>
      (await ctx.db.select().from(telegramLinks))[0]?.lastActive?.getTime()
    for (const [after, expected] of [
      [30_000, start],
      [60_000, start],
      [60_001, start + 60_001],
      [90_000, start + 60_001],
    ] as const) {
      clock = new Date(start + after)
      const res = await req(app, "GET", `/api/telegram/status/${CHAT}`, { token: svc.key })
      expect(res.body).toMatchObject({ linked: true, username: "alice" })
      expect({ after, lastActive: await lastActive() }).toEqual({ after, lastActive: expected })
    }
  })

  test("unlink sets is_active=false; the chat then reads as not linked", async () => {
    const { app } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db)
    await link(app, alice.key)
    const res = await req(app, "DELETE", `/api/telegram/link/${CHAT}`, { token: svc.key })
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ telegram_chat_id: CHAT, is_active: false })
    const [row] = await ctx.db
      .select()
      .from(telegramLinks)
      .where(eq(telegramLinks.telegramChatId, CHAT))
    expect(row?.isActive).toBe(false)
    expect(
      (await req(app, "GET", `/api/telegram/status/${CHAT}`, { token: svc.key })).body,
    ).toEqual({ linked: false })
    expect(
      (await req(app, "DELETE", `/api/telegram/link/${CHAT}`, { token: svc.key })).status,
    ).toBe(404)
  })

  test("a user may unlink their own chat with their key or JWT, never someone else's", async () => {
    const { app } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db)
    const bob = await seedUser(ctx.db, { username: "bob" })
    await link(app, alice.key, 1)
    await link(app, alice.key, 2)
    // Someone else's chat answers exactly as a chat nobody linked: whether a Telegram id uses
    // NPS is nobody else's business.
    const others = await req(app, "DELETE", "/api/telegram/link/1", { token: bob.key })
    const nobodys = await req(app, "DELETE", "/api/telegram/link/99", { token: bob.key })
    expect(others.status).toBe(404)
    expect(others.body).toEqual(nobodys.body)
    expect(others.body.error).toBe("not_linked")
    expect((await req(app, "DELETE", "/api/telegram/link/1", { token: alice.key })).status).toBe(
      200,
    )
    const { token } = await login(app, "alice", alice.password)
    expect((await req(app, "DELETE", "/api/telegram/link/2", { token })).status).toBe(200)
    expect((await req(app, "DELETE", "/api/telegram/link/3", { token })).status).toBe(404)
  })

  test("profile lists the linked user's profiles; 404 not_linked for an unlinked chat", async () => {
    const { app } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db)
    await seedProfiles(ctx.db, alice.user.id, [
      { name: "Me", birthday: "1990-01-02" },
      { name: "Zoë_[*]", birthday: "2000-12-31" },
    ])
    await link(app, alice.key)
    const res = await req(app, "GET", `/api/telegram/profile/${CHAT}`, { token: svc.key })
    expect(res.status).toBe(200)
    expect(res.body.map((p: { name: string; birthday: string }) => [p.name, p.birthday])).toEqual([
      ["Me", "1990-01-02"],
      ["Zoë_[*]", "2000-12-31"],
    ])
    expect(Object.keys(res.body[0]).sort()).toEqual(["birthday", "created_at", "id", "name"])
    const missing = await req(app, "GET", "/api/telegram/profile/777", { token: svc.key })
    expect(missing.status).toBe(404)
    expect(missing.body.error).toBe("not_linked")
  })

  test("profile of a linked user without profiles is an empty list", async () => {
    const { app } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db)
    await link(app, alice.key)
    const res = await req(app, "GET", `/api/telegram/profile/${CHAT}`, { token: svc.key })
    expect(res.status).toBe(200)
    expect(res.body).toEqual([])
  })

  test("status, profile and service unlink need the telegram:service scope", async () => {
    const { app } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db)
    const mallory = await seedUser(ctx.db, { username: "mallory" })
    await link(app, alice.key)
    for (const path of [`/api/telegram/status/${CHAT}`, `/api/telegram/profile/${CHAT}`]) {
      expect((await req(app, "GET", path)).status).toBe(401)
      expect(
        (await req(app, "GET", path, { token: "nps_not_a_real_key_at_all_1234" })).status,
      ).toBe(401)
      const res = await req(app, "GET", path, { token: mallory.key })
      expect(res.status).toBe(403)
      expect(res.body.error).toBe("forbidden")
    }
    // Unlinking someone else's chat: no credentials → 401; a plain user key → the 404 of an
    // unlinked chat; still linked.
    expect((await req(app, "DELETE", `/api/telegram/link/${CHAT}`)).status).toBe(401)
    expect(
      (await req(app, "DELETE", `/api/telegram/link/${CHAT}`, { token: mallory.key })).status,
    ).toBe(404)
    const [row] = await ctx.db.select().from(telegramLinks)
    expect(row?.isActive).toBe(true)
  })

  test("Telegram's extreme chat ids round-trip exactly", async () => {
    const { app } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db)
    for (const id of [-1001234567890, -4000000000000, 1099511627775]) {
      const res = await link(app, alice.key, id)
      expect(res.body.telegram_chat_id).toBe(id)
      expect(
        (await req(app, "GET", `/api/telegram/status/${id}`, { token: svc.key })).body.linked,
      ).toBe(true)
      const [row] = await ctx.db
        .select()
        .from(telegramLinks)
        .where(eq(telegramLinks.telegramChatId, id))
      expect(row?.telegramChatId).toBe(id)
    }
  })
})

async function login(app: ReturnType<typeof makeApp>["app"], username: string, password: string) {
  const res = await req(app, "POST", "/api/auth/login", { body: { username, password } })
  return { token: res.body.access_token as string }
}
