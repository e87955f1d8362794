// Property-based: thousands of generated requests to every public endpoint, with and without
// valid credentials. Whatever is sent: never a 5xx, every error in the envelope, and no secret
// the client sent (key, password, JWT, link token) or derived from one (a hash) in a reply or a
// log line.
import { expect, test } from "bun:test"
import fc from "fast-check"
import { createJwt, hashApiKey, hashLinkToken } from "../src/credentials"
import { createLinkToken } from "../src/modules/telegram/service"
import { describeEachDb, makeApp, seedServiceKey, seedUser, TEST_JWT_SECRET } from "./helpers"

const SEED = 20261125
const RUNS = 2500

interface Generated {
  method: string
  path: string
  auth?: string
  contentType?: string
  body?: string
}

describeEachDb("fuzz", (ctx) => {
  test(`${RUNS} generated requests: never a 5xx, always the envelope, never a secret echoed`, async () => {
    const { app, logText } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db)
    const svc = await seedServiceKey(ctx.db)
    const notifier = await seedUser(ctx.db, { username: "alerts", scopes: ["telegram:notify"] })
    // Signed a minute ago, so no token the API issues during the run can equal it.
    const jwt = await createJwt(TEST_JWT_SECRET, () => new Date(Date.now() - 60_000)).sign(
      alice.user.id,
    )
    // A live one-time link token too: redeeming it is fine, echoing it never.
    const { token } = await createLinkToken(
      ctx.db,
      { userId: alice.user.id, botUsername: undefined },
      new Date(),
    )
    const secrets = [alice.key, svc.key, notifier.key, jwt, alice.password, token]
    const forbidden = [
      ...secrets,
      hashLinkToken(token),
      hashApiKey(alice.key),
      hashApiKey(svc.key),
      hashApiKey(notifier.key),
    ]

    const printable = fc
      .string({ unit: "binary-ascii", maxLength: 60 })
      .map((s) => s.replace(/[^\x20-\x7e]/g, ""))
    // Plenty of the values that broke things before: NUL, impossible dates, the secrets.
    const anyText = fc.oneof(
      {
        weight: 2,
        arbitrary: fc.constantFrom(
          ...secrets,
          "\u0000",
          "a\u0000b",
          "\ud800",
          "0000-01-01",
          "2024-02-30",
          "1990-01-02",
          "2026-02-30T10:00:00Z",
          "+275760-09-13T00:00:00Z",
          "9999-12-31T23:59:59Z",
          "<b>x</i>",
          "<a href='javascript:x'>y</a>",
          "Europe/Madrid",
          "",
        ),
      },
      { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
      { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
    )
    const auth = fc.option(
      fc.oneof(
        fc.constantFrom(...[alice.key, svc.key, notifier.key, jwt].map((t) => `Bearer ${t}`)),
        printable.map((s) => `Bearer ${s}`),
        printable,
        fc.constantFrom(`Bearer ${alice.key}x`, `Bearer ${jwt.slice(0, -2)}`, "Bearer nps_"),
      ),
      { nil: undefined },
    )
    const chatId = fc.oneof(
      fc.integer().map(String),
      fc.constantFrom("-1001234567890", "9007199254740991", "9007199254740992", "1e3", "0x10"),
      fc.string({ maxLength: 20 }).map(encodeURIComponent),
    )
    const value = fc.oneof(
      { weight: 6, arbitrary: anyText },
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.array(anyText, { maxLength: 3 }),
      fc.constantFrom("oracle:read", "telegram:service", ["oracle:write"], ["telegram:notify"]),
      fc.constantFrom("alice", alice.user.id, "sent", "retry", "failed", "blocked"),
      fc.constantFrom(
        "html",
        "high",
        { start: "22:00", end: "08:00" },
        { ru: "\ud800" },
        {
          billing: false,
        },
      ),
      fc.constant([[{ text: "Open", url: "https://example.com" }]]),
    )
    // Bodies shaped like each endpoint's, with any values; or any JSON; or any bytes.
    const shaped = (...fields: string[]) =>
      fc.record(Object.fromEntries(fields.map((f) => [f, value])), { requiredKeys: [] })
    const body = (...fields: string[]) =>
      fc.oneof(
        { weight: 4, arbitrary: shaped(...fields).map((o) => JSON.stringify(o)) },
        { weight: 1, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
        { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 80 }) },
        { weight: 1, arbitrary: fc.constant(`{"pad":"${"x".repeat(70_000)}"}`) },
      )
    const contentType = fc.oneof(
      { weight: 5, arbitrary: fc.constant("application/json") },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          "text/plain",
          "application/x-www-form-urlencoded",
          "multipart/form-data",
        ),
      },
      { weight: 1, arbitrary: fc.constant(undefined) },
    )
    const endpoint: fc.Arbitrary<Generated> = fc.oneof(
      fc.constant({ method: "GET", path: "/api/health" }),
      fc.constant({ method: "GET", path: "/metrics" }),
      fc.constant({ method: "GET", path: "/swagger/json" }),
      fc.record({
        method: fc.constant("POST"),
        path: fc.constant("/api/auth/login"),
        body: body("username", "password"),
      }),
      fc.constant({ method: "GET", path: "/api/auth/me" }),
      fc.record({
        method: fc.constant("POST"),
        path: fc.constant("/api/auth/api-keys"),
        body: body("name", "scopes", "expires_days"),
      }),
      fc.constant({ method: "GET", path: "/api/auth/api-keys" }),
      fc.record({
        method: fc.constant("DELETE"),
        path: fc
          .oneof(fc.uuid(), fc.string({ maxLength: 40 }).map(encodeURIComponent))
          .map((id) => `/api/auth/api-keys/${id}`),
      }),
      fc.constant({ method: "GET", path: "/api/oracle/profiles" }),
      fc.record({
        method: fc.constant("POST"),
        path: fc.constant("/api/oracle/profiles"),
        body: body("name", "birthday"),
      }),
      fc.record({
        method: fc.constant("POST"),
        path: fc.constant("/api/telegram/link"),
        body: body("telegram_chat_id", "telegram_username", "api_key"),
      }),
      fc.record({
        method: fc.constant("GET"),
        path: chatId.map((id) => `/api/telegram/status/${id}`),
      }),
      fc.record({
        method: fc.constant("DELETE"),
        path: chatId.map((id) => `/api/telegram/link/${id}`),
      }),
      fc.record({
        method: fc.constant("GET"),
        path: chatId.map((id) => `/api/telegram/profile/${id}`),
      }),
      fc.record({
        method: fc.constant("POST"),
        path: fc.constant("/api/telegram/link-tokens"),
        body: fc.option(body(), { nil: undefined }),
      }),
      fc.record({
        method: fc.constant("POST"),
        path: fc.constant("/api/telegram/link-tokens/redeem"),
        body: body("token", "telegram_chat_id", "telegram_username"),
      }),
      fc.constant({ method: "GET", path: "/api/telegram/links" }),
      fc.record({
        method: fc.constant("PUT"),
        path: chatId.map((id) => `/api/telegram/chats/${id}/blocked`),
        body: body("blocked"),
      }),
      fc.record({
        method: fc.constant("POST"),
        path: chatId.map((id) => `/api/telegram/chats/${id}/migration`),
        body: body("to_chat_id"),
      }),
      fc.record({
        method: fc.constant("POST"),
        path: fc.constant("/api/telegram/notifications"),
        body: body(
          "username",
          "user_id",
          "text",
          "idempotency_key",
          "format",
          "buttons",
          "silent",
          "protect_content",
          "link_preview",
          "split",
          "category",
          "priority",
          "send_at",
          "expires_at",
          "translations",
        ),
      }),
      fc.constant({ method: "GET", path: "/api/telegram/preferences" }),
      fc.record({
        method: fc.constant("PUT"),
        path: fc.constantFrom(
          "/api/telegram/preferences",
          "/api/telegram/chats/42/preferences",
          "/api/telegram/chats/-1001234567890/preferences",
        ),
        body: body("muted_until", "time_zone", "quiet_hours", "categories", "language"),
      }),
      fc.record({
        method: fc.constant("GET"),
        path: chatId.map((id) => `/api/telegram/chats/${id}/preferences`),
      }),
      fc.record({
        method: fc.constant("PUT"),
        path: chatId.map((id) => `/api/telegram/chats/${id}/language-code`),
        body: body("language_code"),
      }),
      fc.record({
        method: fc.constant("GET"),
        path: fc
          .oneof(fc.uuid(), fc.string({ maxLength: 40 }).map(encodeURIComponent))
          .map((id) => `/api/telegram/notifications/${id}`),
      }),
      // Not wait_seconds: a long poll that waits is its own test, not thousands of them.
      fc.record({
        method: fc.constant("POST"),
        path: fc.constant("/api/telegram/deliveries/lease"),
        body: body("max"),
      }),
      fc.record({
        method: fc.constant("POST"),
        path: fc.constant("/api/telegram/deliveries/report"),
        body: fc.oneof(
          body("results"),
          fc
            .array(
              shaped(
                "id",
                "lease_id",
                "outcome",
                "retry_after_seconds",
                "error",
                "chat_id",
                "parts_sent",
              ),
              {
                maxLength: 3,
              },
            )
            .map((results) => JSON.stringify({ results })),
        ),
      }),
    )
    const request = fc.record({ endpoint, auth, contentType })

    const seen = new Map<number, number>()
    await fc.assert(
      fc.asyncProperty(request, async ({ endpoint: e, auth: authorization, contentType: type }) => {
        const headers: Record<string, string> = {}
        if (authorization !== undefined) headers.authorization = authorization
        if (e.body !== undefined) {
          if (type) headers["content-type"] = type
          headers["content-length"] = String(Buffer.byteLength(e.body))
        }
        const response = await app.handle(
          new Request(`http://localhost${e.path}`, { method: e.method, headers, body: e.body }),
        )
        const text = await response.text()
        seen.set(response.status, (seen.get(response.status) ?? 0) + 1)
        const where = `${e.method} ${e.path} → ${response.status}`
        expect({ where, serverError: response.status >= 500 && response.status !== 503 }).toEqual({
          where,
          serverError: false,
        })
        if (response.status >= 400) {
          const parsed = JSON.parse(text)
          expect(Object.keys(parsed).sort()).toEqual(["error", "message"])
          expect(typeof parsed.error).toBe("string")
          expect(typeof parsed.message).toBe("string")
        }
        for (const secret of forbidden) expect(text.includes(secret)).toBe(false)
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    )
    // No 503 either: the database is up, so every answer was the client's doing or success.
    expect(seen.has(503)).toBe(false)
    // The run reached past validation into the handlers, not only the 4xx paths.
    expect(seen.get(200) ?? 0).toBeGreaterThan(RUNS / 10)
    const logs = logText()
    for (const secret of forbidden) expect(logs.includes(secret)).toBe(false)
  })
})
