// Status webhooks end to end: a real receiver (Bun.serve on 127.0.0.1) gets one signed
// notification.finished per finished notification, verified with the standardwebhooks library;
// retries keep the webhook-id; the outbox survives a restart of the app; two apps send once.
import { afterEach, beforeEach, expect, test } from "bun:test"
import { telegramLinks, webhookMessages } from "@nps/db"
import { eq } from "drizzle-orm"
import { Webhook } from "standardwebhooks"
import type { AppOptions } from "../src/app"
import type { BackgroundOptions } from "../src/background"
import { createNotification } from "../src/modules/notifications/service"
import { describeEachDb, makeApp, req, seedServiceKey, seedUser, testConfig } from "./helpers"
import { startReceiver } from "./webhook-receiver"

type Built = ReturnType<typeof makeApp>
type Seeded = Awaited<ReturnType<typeof seedUser>>

describeEachDb("status webhooks", (ctx) => {
  let svc: Seeded
  let sender: Seeded
  const receivers: ReturnType<typeof startReceiver>[] = []
  const apps: Built[] = []

  const build = (background: BackgroundOptions = {}, options: Partial<AppOptions> = {}) => {
    const built = makeApp(ctx.db, {
      config: testConfig({ NOTIFY_WEBHOOKS_ALLOW_PRIVATE: "true" }),
      background: { retryScheduleMs: [0, 0], webhookPollMs: 20, ...background },
      ...options,
    })
    apps.push(built)
    return built
  }
  const receiver = (script: (number | Response)[] = []) => {
    const r = startReceiver(script)
    receivers.push(r)
    return r
  }
  const bg = (built: Built) => built.app.decorator.background

  beforeEach(async () => {
    svc = await seedServiceKey(ctx.db)
    sender = await seedUser(ctx.db, { username: "oracle-service", scopes: ["telegram:notify"] })
    await seedUser(ctx.db, { username: "carol" }) // no chats: her notifications are undeliverable
  })
  afterEach(async () => {
    for (const built of apps.splice(0)) await bg(built).stop()
    for (const r of receivers.splice(0)) r.stop()
  })

  const register = async (app: Built["app"], url: string, token = sender.key) => {
    const res = await req(app, "POST", "/api/telegram/webhook-endpoints", { token, body: { url } })
    expect(res.status).toBe(201)
    return res.body as { id: string; secret: string }
  }
  const notify = (app: Built["app"], body: object, token = sender.key) =>
    req(app, "POST", "/api/telegram/notifications", { token, body })
  const undeliverable = async (app: Built["app"], text = "hello") => {
    const res = await notify(app, { username: "carol", text })
    expect(res.body.status).toBe("undeliverable")
    return res.body.id as string
  }
  const headers = (h: Record<string, string>) => ({
    "webhook-id": h["webhook-id"] ?? "",
    "webhook-timestamp": h["webhook-timestamp"] ?? "",
    "webhook-signature": h["webhook-signature"] ?? "",
  })

  test("one signed notification.finished per finished notification, to each endpoint of its sender only", async () => {
    const built = build()
    const { app, logText } = built
    const mine = receiver()
    const theirs = receiver()
    const endpoint = await register(app, mine.url)
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/)
    const other = await seedUser(ctx.db, { username: "other", scopes: ["telegram:notify"] })
    await register(app, theirs.url, other.key)

    const bob = await seedUser(ctx.db, { username: "bob" })
    await ctx.db.insert(telegramLinks).values({ telegramChatId: 4242, userId: bob.user.id })
    const queued = await notify(app, { username: "bob", text: "your reading" })
    expect(queued.body.status).toBe("queued")
    expect(await bg(built).webhooks.runOnce()).toBe(0) // not finished: nothing to say yet

    const lease = await req(app, "POST", "/api/telegram/deliveries/lease", {
      token: svc.key,
      body: {},
    })
    const [delivery] = lease.body.deliveries
    await req(app, "POST", "/api/telegram/deliveries/report", {
      token: svc.key,
      body: { results: [{ id: delivery.id, lease_id: lease.body.lease_id, outcome: "sent" }] },
    })
    const lost = await undeliverable(app)
    // An operator's notification (admin CLI: no sender) fires nothing.
    await createNotification(ctx.db, { username: "carol", text: "ops" }, null, new Date())

    expect(await bg(built).webhooks.runOnce()).toBe(2)
    expect(mine.received).toHaveLength(2)
    expect(theirs.received).toHaveLength(0)
    const events = mine.received.map((r) => {
      // The receiver's side, with the reference library: throws unless the signature is ours.
      const payload = new Webhook(endpoint.secret).verify(r.body, headers(r.headers))
      expect(() =>
        new Webhook(`whsec_${btoa("x".repeat(32))}`).verify(r.body, headers(r.headers)),
      ).toThrow()
      return payload as { type: string; timestamp: string; data: { id: string } }
    })
    for (const event of events) {
      expect(event.type).toBe("notification.finished")
      expect(new Date(event.timestamp).toISOString()).toBe(event.timestamp)
      const view = await req(app, "GET", `/api/telegram/notifications/${event.data.id}`, {
        token: sender.key,
      })
      expect(event.data).toEqual(view.body)
    }
    expect(events.map((e) => e.data.id).sort()).toEqual([queued.body.id, lost].sort())
    expect(events.find((e) => e.data.id === queued.body.id)?.data).toMatchObject({
      status: "sent",
      deliveries: [{ telegram_chat_id: 4242, status: "sent" }],
    })

    // Nothing is sent twice.
    expect(await bg(built).webhooks.runOnce()).toBe(0)
    expect(mine.received).toHaveLength(2)
    const listed = await req(app, "GET", "/api/telegram/webhook-endpoints", { token: sender.key })
    expect(listed.body).toEqual([
      expect.objectContaining({
        id: endpoint.id,
        last_success_at: expect.any(String),
        last_error: null,
      }),
    ])
    expect(listed.text).not.toContain(endpoint.secret.slice(6))
    expect(logText()).not.toContain(endpoint.secret.slice(6))
  })

  test("500, 500, 200: three attempts with the same webhook-id, each signed afresh", async () => {
    const built = build({ retryScheduleMs: [0, 0] })
    const r = receiver([500, 500, 200])
    const { secret } = await register(built.app, r.url)
    await undeliverable(built.app)
    for (let i = 0; i < 3; i++) expect(await bg(built).webhooks.runOnce()).toBe(1)
    expect(await bg(built).webhooks.runOnce()).toBe(0)
    expect(r.received).toHaveLength(3)
    expect(new Set(r.received.map((x) => x.headers["webhook-id"])).size).toBe(1)
    for (const x of r.received) new Webhook(secret).verify(x.body, headers(x.headers))
    const metrics = (await req(built.app, "GET", "/metrics")).text
    expect(metrics).toContain('nps_webhook_messages_total{outcome="retried"} 2')
    expect(metrics).toContain('nps_webhook_messages_total{outcome="sent"} 1')
    const [endpoint] = (
      await req(built.app, "GET", "/api/telegram/webhook-endpoints", { token: sender.key })
    ).body
    expect(endpoint).toMatchObject({ last_error: "HTTP 500", last_failure_at: expect.any(String) })
    expect(endpoint.last_success_at).not.toBeNull()
  })

  test("after the last retry the message is given up: logged in words and counted", async () => {
    const built = build({ retryScheduleMs: [0] })
    const r = receiver([503, 503, 503])
    await register(built.app, r.url)
    await undeliverable(built.app)
    expect(await bg(built).webhooks.runOnce()).toBe(1)
    expect(await bg(built).webhooks.runOnce()).toBe(1)
    expect(await bg(built).webhooks.runOnce()).toBe(0)
    expect(r.received).toHaveLength(2)
    const [row] = await ctx.db.select().from(webhookMessages)
    expect(row).toMatchObject({ status: "failed", attempts: 2, lastError: "HTTP 503" })
    expect(built.logText()).toContain("status webhook given up after 2 attempts")
    expect((await req(built.app, "GET", "/metrics")).text).toContain(
      'nps_webhook_messages_total{outcome="given_up"} 1',
    )
  })

  test("redirects are not followed: a 302 is a failed attempt", async () => {
    const built = build({ retryScheduleMs: [60_000] })
    const r = receiver([new Response(null, { status: 302, headers: { location: "/elsewhere" } })])
    await register(built.app, r.url)
    await undeliverable(built.app)
    expect(await bg(built).webhooks.runOnce()).toBe(1)
    expect(r.received.map((x) => x.path)).toEqual(["/hooks"])
    const [row] = await ctx.db.select().from(webhookMessages)
    expect(row).toMatchObject({
      status: "pending",
      lastError: "HTTP 302 (redirects are not followed)",
    })
  })

  test("an event still due when the app stops is sent by the next app on the same database", async () => {
    const first = build()
    const r = receiver([500, 200])
    await register(first.app, r.url)
    await undeliverable(first.app)
    expect(await bg(first).webhooks.runOnce()).toBe(1) // 500: a retry is due
    await bg(first).stop()
    const pending = await ctx.db.select().from(webhookMessages)
    const second = build()
    bg(second).start() // what main.ts does at listen
    await r.count(2)
    expect(r.received).toHaveLength(2)
    expect(r.received[1]?.headers["webhook-id"]).toBe(r.received[0]?.headers["webhook-id"] ?? "")
    expect(pending).toMatchObject([{ status: "pending", attempts: 1 }])
  })

  test("two apps on one database send each event once", async () => {
    const a = build({ webhookPollMs: 5 })
    const b = build({ webhookPollMs: 5 })
    const r = receiver()
    await register(a.app, r.url)
    bg(a).start()
    bg(b).start()
    for (let i = 0; i < 20; i++) await undeliverable(i % 2 ? a.app : b.app, `n${i}`)
    await r.count(20)
    // Once every row is settled, any duplicate would already have arrived.
    for (;;) {
      const rows = await ctx.db
        .select()
        .from(webhookMessages)
        .where(eq(webhookMessages.status, "pending"))
      if (rows.length === 0) break
      await Bun.sleep(10)
    }
    expect(r.received).toHaveLength(20)
    expect(new Set(r.received.map((x) => x.headers["webhook-id"])).size).toBe(20)
  })
})
