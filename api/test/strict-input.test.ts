// What a client sends is taken as written or refused: no numeric strings read as chat ids, no
// malformed body ignored, no lone surrogate silently stored as U+FFFD.
import { expect, test } from "bun:test"
import { notifications, telegramLinks } from "@nps/db"
import { describeEachDb, makeApp, req, seedServiceKey, seedUser } from "./helpers"

const NOTIFY = ["telegram:notify" as const, "oracle:write" as const]

describeEachDb("strict input", (ctx) => {
  test('a chat id in a JSON body is a JSON number: "0x10", "1e3", "0b11", " 77 " and "16" are 422 and link nothing', async () => {
    const { app } = makeApp(ctx.db)
    const svc = await seedServiceKey(ctx.db)
    const alice = await seedUser(ctx.db)
    for (const chatId of ["0x10", "1e3", "0b11", " 77 ", "16", "-5", true, null, [16]]) {
      const { body: made } = await req(app, "POST", "/api/telegram/link-tokens", {
        token: alice.key,
      })
      const redeemed = await req(app, "POST", "/api/telegram/link-tokens/redeem", {
        token: svc.key,
        body: { token: made.token, telegram_chat_id: chatId },
      })
      expect([JSON.stringify(chatId), redeemed.status]).toEqual([JSON.stringify(chatId), 422])
      expect(redeemed.body.message).toContain("telegram_chat_id")
      const linked = await req(app, "POST", "/api/telegram/link", {
        token: svc.key,
        body: { telegram_chat_id: chatId, api_key: alice.key },
      })
      expect(linked.status).toBe(422)
    }
    const moved = await req(app, "POST", "/api/telegram/chats/1/migration", {
      token: svc.key,
      body: { to_chat_id: "-1001234567890" },
    })
    expect(moved.status).toBe(422)
    expect(await ctx.db.select().from(telegramLinks)).toEqual([])
    // The number itself still works.
    const { body: made } = await req(app, "POST", "/api/telegram/link-tokens", { token: alice.key })
    const ok = await req(app, "POST", "/api/telegram/link-tokens/redeem", {
      token: svc.key,
      body: { token: made.token, telegram_chat_id: 16 },
    })
    expect([ok.status, ok.body.telegram_chat_id]).toEqual([200, 16])
  })

  test("a malformed JSON body is a 400 on every POST, those that take no body included", async () => {
    const { app } = makeApp(ctx.db)
    const svc = await seedServiceKey(ctx.db)
    const alice = await seedUser(ctx.db, { scopes: ["telegram:notify"] })
    const posts: [string, string][] = [
      ["/api/telegram/link-tokens", alice.key],
      ["/api/telegram/link-tokens/redeem", svc.key],
      ["/api/telegram/notifications", alice.key],
      ["/api/telegram/deliveries/lease", svc.key],
      ["/api/auth/api-keys", alice.key],
    ]
    for (const [path, token] of posts) {
      const res = await req(app, "POST", path, { token, raw: "{bad" })
      expect([path, res.status, res.body.error]).toEqual([path, 400, "malformed_body"])
    }
    // An empty body is no body: a route that takes none still answers.
    expect((await req(app, "POST", "/api/telegram/link-tokens", { token: alice.key })).status).toBe(
      201,
    )
  })

  test("malformed UUIDs are named as such, not as NUL characters", async () => {
    const { app } = makeApp(ctx.db)
    const svc = await seedServiceKey(ctx.db)
    const admin = await seedUser(ctx.db, { username: "root", scopes: NOTIFY })
    const replies = [
      await req(app, "POST", "/api/telegram/notifications", {
        token: admin.key,
        body: { user_id: "alice", text: "hi" },
      }),
      await req(app, "GET", "/api/telegram/notifications/not-a-uuid", { token: admin.key }),
      await req(app, "POST", "/api/telegram/deliveries/report", {
        token: svc.key,
        body: { results: [{ id: 1, lease_id: "abc", outcome: "sent" }] },
      }),
    ]
    for (const res of replies) {
      expect(res.status).toBe(422)
      expect(res.body.message).toContain("must be a UUID")
      expect(res.body.message).not.toContain("NUL")
    }
  })

  test("a lone surrogate in any string is a 422 naming the field, never stored as U+FFFD", async () => {
    const { app } = makeApp(ctx.db)
    const admin = await seedUser(ctx.db, { username: "root", scopes: NOTIFY })
    await seedUser(ctx.db)
    // JSON.stringify escapes a lone surrogate as \ud800, exactly what a client sends.
    for (const text of ["x\ud800y", "\udc00", "end\udbff"]) {
      const res = await req(app, "POST", "/api/telegram/notifications", {
        token: admin.key,
        body: { username: "alice", text },
      })
      expect(res.status).toBe(422)
      expect(res.body.message).toStartWith("Invalid text:")
    }
    const named = await req(app, "POST", "/api/oracle/profiles", {
      token: admin.key,
      body: { name: "a\ud83d", birthday: "2000-01-01" },
    })
    expect([named.status, named.body.message]).toEqual([422, expect.stringContaining("name")])
    expect(await ctx.db.select().from(notifications)).toEqual([])
    // A pair is one character (an emoji), accepted as it is.
    const emoji = await req(app, "POST", "/api/telegram/notifications", {
      token: admin.key,
      body: { username: "alice", text: "x\ud83d\ude00y" },
    })
    expect(emoji.status).toBe(202)
  })
})
