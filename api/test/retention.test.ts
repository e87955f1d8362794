// Retention with an injected clock: notifications finished longer ago than
// NOTIFICATION_RETENTION_DAYS disappear in one run of the app's sweeper (in small batches), with
// their deliveries and webhook messages; unfinished ones never do; their idempotency keys can be
// used again.
import { beforeEach, expect, test } from "bun:test"
import { notificationDeliveries, notifications, telegramLinks, webhookMessages } from "@nps/db"
import { eq, inArray } from "drizzle-orm"
import { loadConfig } from "../src/config"
import { describeEachDb, makeApp, req, seedServiceKey, seedUser, testConfig } from "./helpers"

const DAY = 86_400_000

test("NOTIFICATION_RETENTION_DAYS: 30 by default, a whole number of days, else a clear error", () => {
  const base = { NODE_ENV: "test" }
  expect(loadConfig(base).retentionDays).toBe(30)
  expect(loadConfig({ ...base, NOTIFICATION_RETENTION_DAYS: "7" }).retentionDays).toBe(7)
  for (const bad of ["0", "-1", "1.5", "7d", "abc", "99999"])
    expect(() => loadConfig({ ...base, NOTIFICATION_RETENTION_DAYS: bad })).toThrow(
      "NOTIFICATION_RETENTION_DAYS is invalid: expected a whole number of days from 1 to 36500",
    )
  expect(loadConfig(base).webhooksAllowPrivate).toBe(false)
  expect(loadConfig({ ...base, NOTIFY_WEBHOOKS_ALLOW_PRIVATE: "TRUE" }).webhooksAllowPrivate).toBe(
    true,
  )
  expect(() => loadConfig({ ...base, NOTIFY_WEBHOOKS_ALLOW_PRIVATE: "yes" })).toThrow(
    "NOTIFY_WEBHOOKS_ALLOW_PRIVATE is invalid: expected true or false",
  )
})

describeEachDb("retention", (ctx) => {
  let clock: Date
  let built: ReturnType<typeof makeApp>
  let sender: Awaited<ReturnType<typeof seedUser>>
  let svc: Awaited<ReturnType<typeof seedUser>>

  beforeEach(async () => {
    clock = new Date("2026-03-01T12:00:00Z")
    built = makeApp(ctx.db, {
      now: () => clock,
      config: testConfig({
        NOTIFICATION_RETENTION_DAYS: "30",
        NOTIFY_WEBHOOKS_ALLOW_PRIVATE: "true",
      }),
      background: { sweepBatch: 2 },
    })
    svc = await seedServiceKey(ctx.db)
    sender = await seedUser(ctx.db, { username: "svc", scopes: ["telegram:notify"] })
    await seedUser(ctx.db, { username: "carol" })
    const bob = await seedUser(ctx.db, { username: "bob" })
    await ctx.db.insert(telegramLinks).values({ telegramChatId: 555, userId: bob.user.id })
  })

  const notify = (body: object) =>
    req(built.app, "POST", "/api/telegram/notifications", { token: sender.key, body })
  const show = (id: string) =>
    req(built.app, "GET", `/api/telegram/notifications/${id}`, { token: sender.key })

  test("finished notifications older than the setting go in one sweep; unfinished ones stay", async () => {
    const { app } = built
    await req(app, "POST", "/api/telegram/webhook-endpoints", {
      token: sender.key,
      body: { url: "http://127.0.0.1:9/never-called" },
    })
    // Five finished at once (undeliverable), one with the key "daily".
    const old: string[] = []
    for (let i = 0; i < 5; i++)
      old.push(
        (
          await notify({
            username: "carol",
            text: `old ${i}`,
            ...(i === 0 && { idempotency_key: "daily" }),
          })
        ).body.id,
      )
    // Accepted now but sent ten days later: retention counts from when it finished.
    const late = (await notify({ username: "bob", text: "late" })).body.id
    clock = new Date(clock.getTime() + 10 * DAY)
    const lease = await req(app, "POST", "/api/telegram/deliveries/lease", {
      token: svc.key,
      body: {},
    })
    const [delivery] = lease.body.deliveries
    await req(app, "POST", "/api/telegram/deliveries/report", {
      token: svc.key,
      body: { results: [{ id: delivery.id, lease_id: lease.body.lease_id, outcome: "sent" }] },
    })
    // Never finished: queued for ever (the chat's head is never reported).
    const stuck = (await notify({ username: "bob", text: "stuck" })).body.id
    expect(await ctx.db.select().from(webhookMessages)).toHaveLength(6)

    // The one sweeper the server starts, run here by hand: it sweeps link tokens too.
    const sweep = async () =>
      (await app.decorator.background.sweeper.runOnce()).notification_retention
    clock = new Date(new Date("2026-03-01T12:00:00Z").getTime() + 30 * DAY - 1000)
    expect(await sweep()).toBe(0) // not yet 30 days
    clock = new Date(clock.getTime() + 2000)
    expect(await sweep()).toBe(5) // batches of 2: 2 + 2 + 1, in one sweep
    for (const id of old) expect((await show(id)).status).toBe(404)
    expect((await show(late)).status).toBe(200)
    expect((await show(stuck)).body.status).toBe("queued")
    const left = await ctx.db
      .select({ id: webhookMessages.notificationId })
      .from(webhookMessages)
      .where(inArray(webhookMessages.notificationId, old))
    expect(left).toEqual([])

    clock = new Date(clock.getTime() + 10 * DAY)
    expect(await sweep()).toBe(1)
    expect((await show(late)).status).toBe(404)
    expect(
      await ctx.db
        .select()
        .from(notificationDeliveries)
        .where(eq(notificationDeliveries.notificationId, late)),
    ).toEqual([])
    clock = new Date(clock.getTime() + 365 * DAY)
    expect(await sweep()).toBe(0)
    expect((await show(stuck)).status).toBe(200)

    // The key is free again: a new notification, not a replay of the deleted one.
    const again = await notify({ username: "carol", text: "old 0 again", idempotency_key: "daily" })
    expect(again.status).toBe(202)
    expect(again.body.id).not.toBe(old[0])
    expect((await req(app, "GET", "/metrics")).text).toContain("nps_notifications_deleted_total 6")
    const logged = built.lines
      .map((line) => JSON.parse(line))
      .filter((line) => line.msg === "retention deleted finished notifications")
    expect(logged.map((line) => [line.level, line.deleted, line.days])).toEqual([
      ["info", 5, 30],
      ["info", 1, 30],
    ])
    const remaining = await ctx.db.select({ id: notifications.id }).from(notifications)
    expect(remaining.map((r) => r.id).sort()).toEqual([stuck, again.body.id].sort())
  })
})
