// Registering status-webhook endpoints, and where they may point: https to public addresses only,
// checked at registration and again before each send. Every refusal here happens before a socket
// opens: DNS is a resolver the test controls and fetch one that fails the test if it is called,
// so no packet ever leaves for a non-loopback address.
import { beforeEach, expect, test } from "bun:test"
import { webhookMessages } from "@nps/db"
import { isPrivateAddress } from "../src/modules/webhooks/ssrf"
import { describeEachDb, makeApp, req, seedUser, testConfig } from "./helpers"

type Seeded = Awaited<ReturnType<typeof seedUser>>

test("loopback, private, link-local, CGNAT, ULA and metadata addresses are private; public ones are not", () => {
  for (const ip of [
    "127.0.0.1",
    "127.8.9.10",
    "10.0.0.1",
    "172.16.5.4",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "100.127.255.254",
    "0.0.0.0",
    "::1",
    "::",
    "fd00:ec2::254",
    "fc00::1",
    "fe80::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:a9fe:a9fe",
    "64:ff9b::a00:1",
  ])
    expect([ip, isPrivateAddress(ip)]).toEqual([ip, true])
  for (const ip of ["93.184.216.34", "8.8.8.8", "100.128.0.1", "172.32.0.1", "2606:4700::1111"])
    expect([ip, isPrivateAddress(ip)]).toEqual([ip, false])
})

describeEachDb("webhook endpoints", (ctx) => {
  let sender: Seeded
  let dns: Record<string, string[]>
  const asked: string[] = []
  const fetched: string[] = []
  const build = (env: Record<string, string> = {}) =>
    makeApp(ctx.db, {
      config: testConfig(env),
      background: {
        resolve: async (host) => {
          asked.push(host)
          const answer = dns[host]
          if (!answer) throw Object.assign(new Error("not found"), { code: "ENOTFOUND" })
          return answer
        },
        // Never a real request: a call here is a refusal that came too late.
        fetch: (async (url: string) => {
          fetched.push(String(url))
          return new Response("no", { status: 599 })
        }) as unknown as typeof fetch,
        retryScheduleMs: [0],
      },
    })

  beforeEach(async () => {
    sender = await seedUser(ctx.db, { username: "svc", scopes: ["telegram:notify"] })
    await seedUser(ctx.db, { username: "carol" })
    dns = { "hooks.example.com": ["93.184.216.34"] }
    asked.length = 0
    fetched.length = 0
  })

  const register = (app: ReturnType<typeof build>["app"], url: string, token = sender.key) =>
    req(app, "POST", "/api/telegram/webhook-endpoints", { token, body: { url } })

  test("refused at registration: http, IP literals and names resolving to private addresses", async () => {
    const { app } = build()
    dns["internal.example.com"] = ["10.0.0.1"]
    dns["meta.example.com"] = ["93.184.216.34", "169.254.169.254"]
    dns["six.example.com"] = ["::1"]
    dns["localhost.example.com"] = ["127.0.0.1"]
    for (const url of [
      "http://hooks.example.com/x",
      "https://127.0.0.1/x",
      "https://10.0.0.1/x",
      "https://169.254.169.254/latest/meta-data",
      "https://[::1]/x",
      "https://[fd00:ec2::254]/x",
      "https://100.64.0.1/x",
      "https://0.0.0.0/x",
      "https://internal.example.com/x",
      "https://meta.example.com/x",
      "https://six.example.com/x",
      "https://localhost.example.com/x",
      "https://nowhere.example.com/x",
      "ftp://hooks.example.com/x",
      "not a url",
    ]) {
      const res = await register(app, url)
      expect([url, res.status, res.body.error]).toEqual([url, 422, "url_not_allowed"])
    }
    expect((await register(app, "https://hooks.example.com/x")).status).toBe(201)
    expect(fetched).toEqual([])
  })

  test("refused at send time when the name resolves elsewhere since: no request is made", async () => {
    const built = build()
    const res = await register(built.app, "https://hooks.example.com/x")
    expect(res.status).toBe(201)
    dns["hooks.example.com"] = ["10.0.0.1"] // DNS changed after registration
    const made = await req(built.app, "POST", "/api/telegram/notifications", {
      token: sender.key,
      body: { username: "carol", text: "hi" },
    })
    expect(made.body.status).toBe("undeliverable")
    const { webhooks } = built.app.decorator.background
    expect(await webhooks.runOnce()).toBe(1)
    dns["hooks.example.com"] = ["127.0.0.1"]
    expect(await webhooks.runOnce()).toBe(1) // the retry, refused too, then given up
    expect(fetched).toEqual([])
    expect(asked.filter((h) => h === "hooks.example.com")).toHaveLength(3)
    const [row] = await ctx.db.select().from(webhookMessages)
    expect(row).toMatchObject({ status: "failed", lastError: "url_not_allowed" })
    const [endpoint] = (
      await req(built.app, "GET", "/api/telegram/webhook-endpoints", { token: sender.key })
    ).body
    expect(endpoint).toMatchObject({ last_error: "url_not_allowed", last_success_at: null })
  })

  test("NOTIFY_WEBHOOKS_ALLOW_PRIVATE=true lets loopback and http through (development, tests)", async () => {
    const { app } = build({ NOTIFY_WEBHOOKS_ALLOW_PRIVATE: "true" })
    expect((await register(app, "http://127.0.0.1:9/x")).status).toBe(201)
    expect((await register(app, "https://[::1]/x")).status).toBe(201)
  })

  test("at most 10 per sender; GET lists only the caller's, never the secret; DELETE only its own", async () => {
    const { app, logText } = build()
    const secrets: string[] = []
    for (let i = 0; i < 10; i++) {
      const res = await register(app, `https://hooks.example.com/${i}`)
      expect(res.status).toBe(201)
      expect(res.body).toEqual({
        id: expect.any(String),
        url: `https://hooks.example.com/${i}`,
        description: null,
        secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
      })
      secrets.push(res.body.secret)
    }
    const eleventh = await register(app, "https://hooks.example.com/10")
    expect([eleventh.status, eleventh.body.error]).toEqual([409, "too_many_endpoints"])

    const other = await seedUser(ctx.db, { username: "other", scopes: ["telegram:notify"] })
    const theirs = await req(app, "POST", "/api/telegram/webhook-endpoints", {
      token: other.key,
      body: { url: "https://hooks.example.com/theirs", description: "billing" },
    })
    expect(theirs.body.description).toBe("billing")
    const mine = await req(app, "GET", "/api/telegram/webhook-endpoints", { token: sender.key })
    expect(mine.body).toHaveLength(10)
    expect(mine.body[0]).toEqual({
      id: expect.any(String),
      url: "https://hooks.example.com/0",
      description: null,
      created_at: expect.any(String),
      last_success_at: null,
      last_failure_at: null,
      last_error: null,
    })
    for (const secret of secrets) {
      expect(mine.text).not.toContain(secret.slice(6))
      expect(logText()).not.toContain(secret.slice(6))
    }

    const del = (id: string, token = sender.key) =>
      req(app, "DELETE", `/api/telegram/webhook-endpoints/${id}`, { token })
    expect((await del(theirs.body.id)).status).toBe(404)
    expect((await del(mine.body[0].id)).status).toBe(200)
    expect((await del(mine.body[0].id)).status).toBe(404)
    expect((await register(app, "https://hooks.example.com/10")).status).toBe(201)

    const plain = await seedUser(ctx.db, { username: "plain" })
    expect((await register(app, "https://hooks.example.com/p", plain.key)).status).toBe(403)
    expect((await req(app, "GET", "/api/telegram/webhook-endpoints")).status).toBe(401)
  })
})
