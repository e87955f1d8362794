import { afterAll, beforeAll, expect, test } from "bun:test"
import { createDb, type Database } from "@nps/db"
import { makeApp, req } from "./helpers"

let database: Database
let app: ReturnType<typeof makeApp>["app"]
beforeAll(async () => {
  database = await createDb({ memory: true })
  app = makeApp(database.db).app
})
afterAll(() => database.close())

interface Operation {
  responses: Record<string, { description: string }>
  security?: Record<string, string[]>[]
  description?: string
}

test("/swagger loads Swagger UI from this server only: no CDN, nothing from the internet", async () => {
  const page = await req(app, "GET", "/swagger")
  expect(page.status).toBe(200)
  const urls = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1])
  expect(urls.sort()).toEqual([
    "/swagger/assets/swagger-ui-bundle.js",
    "/swagger/assets/swagger-ui.css",
  ])
  expect(page.text).not.toMatch(/https?:\/\//)
  // The document's description sits in a <meta> attribute unescaped: nothing may spill out.
  expect(page.text).toMatch(/<body>\s*<div id="swagger-ui"><\/div>/)
  expect(page.text.match(/<meta\s+name="description"\s+content="[^"<>]*"\s*\/>/)).not.toBeNull()
  for (const [name, type] of [
    ["swagger-ui-bundle.js", "text/javascript"],
    ["swagger-ui.css", "text/css"],
  ] as const) {
    const asset = await app.handle(new Request(`http://localhost/swagger/assets/${name}`))
    expect(asset.status).toBe(200)
    expect(asset.headers.get("content-type")).toStartWith(type)
    const installed = Bun.file(Bun.fileURLToPath(import.meta.resolve(`swagger-ui-dist/${name}`)))
    expect((await asset.arrayBuffer()).byteLength).toBe(installed.size)
  }
  // Swagger UI's validator badge is off: it would send the document's URL to validator.swagger.io.
  const options = page.text.match(/SwaggerUIBundle\((\{[\s\S]*?\})\);/)?.[1]
  expect(JSON.parse(options ?? "{}").validatorUrl).toBe("none")
  // Only those two files: nothing else of the package (or the disk) is reachable.
  for (const name of ["package.json", "..%2F..%2Fpackage.json", "index.html"])
    expect((await req(app, "GET", `/swagger/assets/${name}`)).status).toBe(404)
})

test("each operation names its credential and lists exactly the statuses it answers", async () => {
  const doc = (await req(app, "GET", "/swagger/json")).body as {
    paths: Record<string, Record<string, Operation>>
  }
  const summary = Object.fromEntries(
    Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => [
        `${method.toUpperCase()} ${path}`,
        {
          statuses: Object.keys(op.responses).map(Number),
          security: op.security ?? [],
        },
      ]),
    ),
  )
  type Security = Record<string, string[]>[]
  const jwtOrKey = (scope?: string): Security => [{ jwt: [] }, { apiKey: scope ? [scope] : [] }]
  const jwt: Security = [{ jwt: [] }]
  const service: Security = [{ apiKey: ["telegram:service"] }]
  const none: Security = []
  const body = [400, 411, 413, 422]
  const sorted = (xs: number[]) => [...new Set(xs)].sort((a, b) => a - b)
  expect(summary).toEqual({
    "GET /api/health": { statuses: [200, 503], security: none },
    "POST /api/auth/login": { statuses: sorted([200, ...body, 401, 429, 503]), security: none },
    "GET /api/auth/me": { statuses: [200, 401, 503], security: jwtOrKey() },
    "POST /api/auth/api-keys": {
      statuses: sorted([200, ...body, 401, 403, 503]),
      security: jwt,
    },
    "GET /api/auth/api-keys": { statuses: [200, 401, 403, 503], security: jwt },
    "DELETE /api/auth/api-keys/{id}": {
      statuses: [200, 401, 403, 404, 422, 503],
      security: jwt,
    },
    "GET /api/oracle/profiles": {
      statuses: [200, 401, 403, 503],
      security: jwtOrKey("oracle:read"),
    },
    "POST /api/oracle/profiles": {
      statuses: sorted([200, ...body, 401, 403, 503]),
      security: jwtOrKey("oracle:write"),
    },
    "POST /api/telegram/link": {
      statuses: sorted([200, ...body, 401, 403, 404, 429, 503]),
      security: service,
    },
    "POST /api/telegram/link-tokens": {
      statuses: sorted([201, ...body, 401, 429, 503]),
      security: jwtOrKey(),
    },
    "POST /api/telegram/link-tokens/redeem": {
      statuses: sorted([200, ...body, 401, 403, 404, 503]),
      security: service,
    },
    "GET /api/telegram/links": { statuses: [200, 401, 503], security: jwtOrKey() },
    "GET /api/telegram/status/{chat_id}": {
      statuses: [200, 401, 403, 422, 503],
      security: service,
    },
    "DELETE /api/telegram/link/{chat_id}": {
      statuses: [200, 401, 404, 422, 503],
      security: jwtOrKey(),
    },
    "GET /api/telegram/profile/{chat_id}": {
      statuses: [200, 401, 403, 404, 422, 503],
      security: service,
    },
    "PUT /api/telegram/chats/{chat_id}/blocked": {
      statuses: sorted([200, ...body, 401, 403, 404, 503]),
      security: service,
    },
    "POST /api/telegram/chats/{chat_id}/migration": {
      statuses: sorted([200, ...body, 401, 403, 404, 503]),
      security: service,
    },
    "GET /api/telegram/preferences": { statuses: [200, 401, 503], security: jwtOrKey() },
    "PUT /api/telegram/preferences": {
      statuses: sorted([200, ...body, 401, 503]),
      security: jwtOrKey(),
    },
    "GET /api/telegram/chats/{chat_id}/preferences": {
      statuses: [200, 401, 403, 404, 422, 503],
      security: service,
    },
    "PUT /api/telegram/chats/{chat_id}/preferences": {
      statuses: sorted([200, ...body, 401, 403, 404, 503]),
      security: service,
    },
    "PUT /api/telegram/chats/{chat_id}/language-code": {
      statuses: sorted([200, ...body, 401, 403, 404, 503]),
      security: service,
    },
    "POST /api/telegram/notifications": {
      statuses: sorted([200, 202, ...body, 401, 403, 404, 409, 503]),
      security: jwtOrKey("telegram:notify"),
    },
    "GET /api/telegram/notifications/{id}": {
      statuses: [200, 401, 403, 404, 422, 503],
      security: jwtOrKey("telegram:notify"),
    },
    "POST /api/telegram/deliveries/lease": {
      statuses: sorted([200, ...body, 401, 403, 503]),
      security: service,
    },
    "POST /api/telegram/deliveries/report": {
      statuses: sorted([200, ...body, 401, 403, 503]),
      security: service,
    },
    "POST /api/telegram/notifications/batch": {
      statuses: sorted([200, ...body, 401, 403, 503]),
      security: jwtOrKey("telegram:notify"),
    },
    "POST /api/telegram/webhook-endpoints": {
      statuses: sorted([201, ...body, 401, 403, 409, 503]),
      security: jwtOrKey("telegram:notify"),
    },
    "GET /api/telegram/webhook-endpoints": {
      statuses: [200, 401, 403, 503],
      security: jwtOrKey("telegram:notify"),
    },
    "DELETE /api/telegram/webhook-endpoints/{id}": {
      statuses: [200, 401, 403, 404, 422, 503],
      security: jwtOrKey("telegram:notify"),
    },
  })
  expect(doc.paths["/api/telegram/notifications"]?.post?.description).toStartWith(
    "Credential: an API key with the `telegram:notify` scope, or an admin's JWT.",
  )
  // Every operation says in words which credential it needs, and why each status happens.
  for (const [path, ops] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(ops)) {
      expect({ op: `${method} ${path}`, description: op.description }).toEqual({
        op: `${method} ${path}`,
        description: expect.stringMatching(/Credential: |No Authorization needed/),
      })
      for (const [status, response] of Object.entries(op.responses))
        if (Number(status) >= 400)
          expect(response.description).not.toStartWith(`Response for status ${status}`)
    }
  expect(doc.paths["/api/oracle/profiles"]?.get?.description).toBe(
    "Credential: a JWT, or an API key with the `oracle:read` scope.",
  )
  // A route's own notes follow the credential sentence instead of replacing it.
  expect(doc.paths["/api/telegram/status/{chat_id}"]?.get?.description).toBe(
    "Credential: an API key with the `telegram:service` scope. Answers for a blocked chat too: the user wrote to the bot, so it is unblocked.",
  )
})

test("every field a notification can carry, and every preference, has a description and an example", async () => {
  // biome-ignore lint/suspicious/noExplicitAny: walking the OpenAPI document
  const doc = (await req(app, "GET", "/swagger/json")).body as any
  const bodyOf = (path: string, method: string) =>
    doc.paths[path][method].requestBody.content["application/json"].schema.properties
  const fields = {
    notification: [
      bodyOf("/api/telegram/notifications", "post"),
      "format buttons silent protect_content link_preview split category priority send_at expires_at translations",
    ],
    preferences: [
      bodyOf("/api/telegram/preferences", "put"),
      "muted_until time_zone quiet_hours categories language",
    ],
    chat: [bodyOf("/api/telegram/chats/{chat_id}/language-code", "put"), "language_code"],
  } as const
  for (const [where, [properties, names]] of Object.entries(fields))
    for (const name of names.split(" ")) {
      const schema = properties[name]
      expect({ where, name, description: typeof schema?.description }).toEqual({
        where,
        name,
        description: "string",
      })
      expect({ where, name, examples: Array.isArray(schema?.examples) }).toEqual({
        where,
        name,
        examples: true,
      })
    }
})
