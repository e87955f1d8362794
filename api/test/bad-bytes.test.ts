// Bytes and values Postgres cannot take: rejected at the schema, for every field, never a 500.
import { expect, test } from "bun:test"
import { oracleProfiles } from "@nps/db"
import { Kind, type TSchema } from "@sinclair/typebox"
import { Value } from "@sinclair/typebox/value"
import { createApp } from "../src/app"
import { describeEachDb, makeApp, req, seedServiceKey, seedUser, testConfig } from "./helpers"

/** Every string schema inside a route's input schema, with its path. */
function strings(schema: TSchema, path: string): [string, TSchema][] {
  if (schema[Kind] === "String") return [[path, schema]]
  const children: [string, TSchema][] = [
    ...Object.entries((schema.properties ?? {}) as Record<string, TSchema>),
    ...((schema.anyOf ?? schema.allOf ?? []) as TSchema[]).map((s, i) => [`${i}`, s] as const),
    ...(schema.items ? [["[]", schema.items as TSchema] as const] : []),
  ].map(([k, s]) => [`${path}.${k}`, s])
  return children.flatMap(([p, s]) => strings(s, p))
}

test("every string any route accepts (body, path, query) refuses NUL", () => {
  const app = createApp({ db: {} as never, config: testConfig(), logger: silentLogger })
  const found: string[] = []
  for (const route of app.routes) {
    const hooks = route.hooks as Record<string, TSchema | undefined>
    for (const part of ["body", "params", "query"]) {
      const schema = hooks[part]
      if (!schema) continue
      for (const [path, s] of strings(schema, `${route.method} ${route.path} ${part}`)) {
        found.push(path)
        expect({ path, accepts: Value.Check(s, "a\u0000b") }).toEqual({ path, accepts: false })
      }
    }
  }
  // The walk did find the fields (an empty walk would pass vacuously).
  expect(found.length).toBeGreaterThanOrEqual(8)
})

const silentLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
}

const NUL = "\u0000"

describeEachDb("bad bytes", (ctx) => {
  test("a NUL in any stored or looked-up string is a 422 naming the field, never a 500", async () => {
    const { app, logText } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db)
    const bot = await seedServiceKey(ctx.db)
    const jwt = (
      await req(app, "POST", "/api/auth/login", {
        body: { username: "alice", password: alice.password },
      })
    ).body.access_token
    const cases: [string, string, { body?: unknown; token?: string }, string][] = [
      ["POST", "/api/auth/login", { body: { username: `al${NUL}ice`, password: "x" } }, "username"],
      ["POST", "/api/auth/login", { body: { username: "alice", password: `p${NUL}` } }, "password"],
      ["POST", "/api/auth/api-keys", { token: jwt, body: { name: `k${NUL}` } }, "name"],
      [
        "POST",
        "/api/oracle/profiles",
        { token: alice.key, body: { name: `Me${NUL}`, birthday: "1990-01-02" } },
        "name",
      ],
      [
        "POST",
        "/api/telegram/link",
        {
          token: bot.key,
          body: { telegram_chat_id: 1, telegram_username: `u${NUL}`, api_key: alice.key },
        },
        "telegram_username",
      ],
      [
        "POST",
        "/api/telegram/link",
        { token: bot.key, body: { telegram_chat_id: 1, api_key: `${alice.key}${NUL}` } },
        "api_key",
      ],
    ]
    for (const [method, path, options, field] of cases) {
      const res = await req(app, method, path, options)
      expect({ path, field, status: res.status, error: res.body.error }).toEqual({
        path,
        field,
        status: 422,
        error: "validation_error",
      })
      expect(res.body.message).toBe(`Invalid ${field}: must not contain NUL characters`)
    }
    // Path parameters too (percent-encoded, as a client must send them).
    for (const path of ["/api/auth/api-keys/a%00b", "/api/telegram/link/1%00"]) {
      const res = await req(app, "DELETE", path, {
        token: path.includes("api-keys") ? jwt : bot.key,
      })
      expect(res.status).toBe(422)
    }
    expect(logText()).not.toContain('"level":"error"')
  })

  test("birthdays are real calendar dates Postgres can store: no year 0, no February 30th", async () => {
    const { app } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db)
    const create = (birthday: string) =>
      req(app, "POST", "/api/oracle/profiles", { token: alice.key, body: { name: "X", birthday } })
    for (const birthday of [
      "0000-01-01",
      "2023-02-29",
      "2024-02-30",
      "2024-04-31",
      "99999-01-01",
    ]) {
      const res = await create(birthday)
      expect({ birthday, status: res.status }).toEqual({ birthday, status: 422 })
      expect(res.body.message).toStartWith("Invalid birthday: ")
      expect(res.body.message).not.toContain(birthday)
    }
    for (const birthday of ["0001-01-01", "2024-02-29", "9999-12-31"]) {
      const res = await create(birthday)
      expect({ birthday, status: res.status }).toEqual({ birthday, status: 200 })
      expect(res.body.birthday).toBe(birthday)
    }
    expect(await ctx.db.select().from(oracleProfiles)).toHaveLength(3)
  })
})
