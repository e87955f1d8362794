import { expect, test } from "bun:test"
import { telegramLinks } from "@nps/db"
import { describeEachDb, makeApp, req, seedServiceKey, seedUser } from "./helpers"

// A realistic-looking secret: if any response or log line repeats it, that is a leak.
const SECRET_KEY = "nps_SuperSecretKeyThatMustNeverBeEchoed0123456"
const OVERSIZED = JSON.stringify({
  telegram_chat_id: 1,
  api_key: SECRET_KEY,
  pad: "x".repeat(70_000),
})
const SECRET_PASSWORD = "hunter2-very-secret-password"

describeEachDb("bad input", (ctx) => {
  const linkCases: [
    string,
    { raw?: string; body?: unknown; headers?: Record<string, string> },
    number,
  ][] = [
    ["malformed JSON", { raw: `{"api_key": "${SECRET_KEY}", ` }, 400],
    ["a JSON array", { body: [SECRET_KEY] }, 422],
    ["missing api_key", { body: { telegram_chat_id: 1 } }, 422],
    ["missing chat id", { body: { api_key: SECRET_KEY } }, 422],
    ["chat id as text", { body: { telegram_chat_id: "one", api_key: SECRET_KEY } }, 422],
    ["chat id fractional", { body: { telegram_chat_id: 1.5, api_key: SECRET_KEY } }, 422],
    ["chat id beyond 2^53", { body: { telegram_chat_id: 2 ** 60, api_key: SECRET_KEY } }, 422],
    ["api_key a number", { body: { telegram_chat_id: 1, api_key: 12345 } }, 422],
    ["api_key empty", { body: { telegram_chat_id: 1, api_key: "" } }, 422],
    [
      "api_key too long",
      { body: { telegram_chat_id: 1, api_key: `${SECRET_KEY}${"x".repeat(300)}` } },
      422,
    ],
    [
      "username too long",
      { body: { telegram_chat_id: 1, telegram_username: "u".repeat(101), api_key: SECRET_KEY } },
      422,
    ],
    [
      "username of wrong type",
      { body: { telegram_chat_id: 1, telegram_username: 5, api_key: SECRET_KEY } },
      422,
    ],
    [
      "an oversized body",
      { raw: OVERSIZED, headers: { "content-length": String(OVERSIZED.length) } },
      413,
    ],
    [
      "the wrong content type",
      { raw: `api_key=${SECRET_KEY}`, headers: { "content-type": "text/plain" } },
      422,
    ],
  ]

  for (const [name, input, status] of linkCases) {
    test(`POST /api/telegram/link with ${name} → ${status}, secret never echoed or logged`, async () => {
      const { app, logText } = makeApp(ctx.db)
      const svc = await seedServiceKey(ctx.db)
      const res = await req(app, "POST", "/api/telegram/link", { ...input, token: svc.key })
      expect(res.status).toBe(status)
      expect(typeof res.body.error).toBe("string")
      expect(typeof res.body.message).toBe("string")
      expect(res.text).not.toContain(SECRET_KEY)
      expect(res.text).not.toContain("SuperSecret")
      expect(logText()).not.toContain("SuperSecret")
      expect(await ctx.db.select().from(telegramLinks)).toHaveLength(0)
    })
  }

  test("the request log names the path and status, never the query string", async () => {
    const { app, lines } = makeApp(ctx.db)
    const svc = await seedServiceKey(ctx.db)
    const res = await req(app, "GET", "/api/telegram/status/42?secret=SuperSecretQuery", {
      token: svc.key,
    })
    expect(res.status).toBe(200)
    // Elysia runs after-response hooks on the next turn of the event loop.
    await new Promise((resolve) => setImmediate(resolve))
    const logged = lines.map((line) => JSON.parse(line)).filter((l) => l.msg === "request")
    expect(logged).toEqual([
      expect.objectContaining({ method: "GET", path: "/api/telegram/status/42", status: 200 }),
    ])
    expect(lines.join("\n")).not.toContain("SuperSecretQuery")
  })

  test("validation messages name the field", async () => {
    const { app } = makeApp(ctx.db)
    const svc = await seedServiceKey(ctx.db)
    const res = await req(app, "POST", "/api/telegram/link", {
      token: svc.key,
      body: { telegram_chat_id: "one", api_key: SECRET_KEY },
    })
    expect(res.body.error).toBe("validation_error")
    expect(res.body.message).toContain("telegram_chat_id")
  })

  test("a wrong password or bad key in a login/auth attempt never appears in the reply or logs", async () => {
    const { app, logText } = makeApp(ctx.db)
    await seedUser(ctx.db)
    const login = await req(app, "POST", "/api/auth/login", {
      body: { username: "alice", password: SECRET_PASSWORD },
    })
    expect(login.status).toBe(401)
    const me = await req(app, "GET", "/api/auth/me", { token: SECRET_KEY })
    expect(me.status).toBe(401)
    const bad = await req(app, "POST", "/api/auth/login", {
      body: { username: "alice", password: 42 },
    })
    expect(bad.status).toBe(422)
    for (const text of [login.text, me.text, bad.text, logText()]) {
      expect(text).not.toContain(SECRET_PASSWORD)
      expect(text).not.toContain("SuperSecret")
    }
  })

  test("chat ids in the path must be plain decimal integers within ±(2^53−1)", async () => {
    const { app } = makeApp(ctx.db)
    const svc = await seedServiceKey(ctx.db)
    const rejected = [
      "abc",
      "1.5",
      "9007199254740993",
      "-9007199254740993",
      "1e3",
      "+5",
      "0x10",
      "007",
      "%207",
      "%00",
    ]
    for (const id of rejected) {
      const res = await req(app, "GET", `/api/telegram/status/${id}`, { token: svc.key })
      expect({ id, status: res.status, error: res.body.error }).toEqual({
        id,
        status: 422,
        error: "validation_error",
      })
      expect(res.body.message).toContain("chat_id")
    }
    for (const id of ["-9007199254740991", "9007199254740991", "0", "-1001234567890"]) {
      const ok = await req(app, "GET", `/api/telegram/status/${id}`, { token: svc.key })
      expect(ok.body).toEqual({ linked: false })
    }
  })

  test("unicode and quote characters in usernames are stored and returned intact", async () => {
    const { app } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db, { username: `O'Brien "ünï" 🚀 _*[]()` })
    const svc = await seedServiceKey(ctx.db)
    const res = await req(app, "POST", "/api/telegram/link", {
      token: svc.key,
      body: {
        telegram_chat_id: 5,
        telegram_username: `tg'"; drop table users; --`,
        api_key: alice.key,
      },
    })
    expect(res.status).toBe(200)
    expect(res.body.username).toBe(`O'Brien "ünï" 🚀 _*[]()`)
    expect(res.body.telegram_username).toBe(`tg'"; drop table users; --`)
  })

  test("a duplicate username is a 409 without Postgres detail", async () => {
    const { app } = makeApp(ctx.db)
    await seedUser(ctx.db, { username: "root", role: "admin" })
    const { createUser } = await import("../src/modules/auth/service")
    const error = await createUser(ctx.db, { username: "root", password: "x" }).catch((e) => e)
    expect(error.status).toBe(409)
    expect(error.message).not.toMatch(/constraint|duplicate key|users_username/i)
    expect((await req(app, "GET", "/api/nope")).status).toBe(404)
  })

  test("unknown routes and methods are 404 in the envelope", async () => {
    const { app } = makeApp(ctx.db)
    const res = await req(app, "PATCH", "/api/telegram/link")
    expect(res.status).toBe(404)
    expect(res.body).toEqual({ error: "not_found", message: "No such endpoint" })
  })
})
