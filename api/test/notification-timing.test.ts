// When a delivery comes due: send_at, expires_at, and the user's preferences applied then (quiet
// hours, mute, categories, language) — on both databases, through real HTTP, with an injected
// clock.
import { expect, test } from "bun:test"
import { notificationDeliveries, notifications, telegramLinks } from "@nps/db"
import { eq } from "drizzle-orm"
import { describeEachDb, makeApp, req } from "./helpers"
import { richFixture } from "./notify-fixture"

describeEachDb("notifications in time and by preference", (ctx) => {
  const f = richFixture(ctx)
  const { at, notify, lease, sendAll, show, prefs } = f

  test("send_at: scheduled, not leased before it, and not holding up the chat's other messages", async () => {
    const later = await notify({ text: "later", send_at: "2026-05-01T09:00:00Z" })
    expect(later.status).toBe(202)
    expect(later.body).toMatchObject({ status: "scheduled", deliveries: [{ status: "queued" }] })
    const now = await notify({ text: "now" })
    const first = await lease()
    expect(first.deliveries.map((d) => d.text)).toEqual(["now"])
    await sendAll(first)
    at("2026-05-01T08:59:59Z")
    expect((await lease()).deliveries).toEqual([])
    expect((await show(later.body.id)).status).toBe("scheduled")
    at("2026-05-01T09:00:00Z")
    expect((await show(later.body.id)).status).toBe("queued")
    const due = await lease()
    expect(due.deliveries.map((d) => d.text)).toEqual(["later"])
    await sendAll(due)
    expect((await show(later.body.id)).status).toBe("sent")
    expect((await show(now.body.id)).status).toBe("sent")
    // A past send_at means now.
    const past = await notify({ text: "past", send_at: "2026-04-01T00:00:00Z" })
    expect(past.body.status).toBe("queued")
  })

  test("expires_at: never leased after it, ends failed/expired even while waiting for quiet hours", async () => {
    const soon = await notify({ text: "soon gone", expires_at: "2026-05-01T08:00:30Z" })
    at("2026-05-01T08:00:30Z")
    expect((await lease()).deliveries).toEqual([])
    expect(await show(soon.body.id)).toMatchObject({
      status: "failed",
      deliveries: [{ status: "failed", error: "expired", sent_at: null }],
    })
    // Held by quiet hours (22:00–08:00 in Madrid, UTC+2): expires at its instant, unsent.
    await prefs({ time_zone: "Europe/Madrid", quiet_hours: { start: "22:00", end: "08:00" } })
    at("2026-05-01T21:00:00Z") // 23:00 in Madrid
    const held = await notify({ text: "tonight", expires_at: "2026-05-01T23:00:00Z" })
    expect((await lease()).deliveries).toEqual([])
    expect((await show(held.body.id)).status).toBe("queued")
    at("2026-05-01T23:00:00Z")
    // GET alone (no lease since) already tells the truth.
    expect(await show(held.body.id)).toMatchObject({
      status: "failed",
      deliveries: [{ status: "failed", error: "expired" }],
    })
    at("2026-05-02T06:00:00Z") // quiet hours over: still nothing to send
    expect((await lease()).deliveries).toEqual([])
  })

  test("with no bot leasing and nobody asking, the background settles expiry and send_at by the clock", async () => {
    const gone = await notify({ text: "gone", expires_at: "2026-05-01T08:00:30Z" })
    const later = await notify({ text: "later", send_at: "2026-05-01T08:00:20Z" })
    const stored = async (id: string) =>
      (
        await ctx.db
          .select({ status: notifications.status, finishedAt: notifications.finishedAt })
          .from(notifications)
          .where(eq(notifications.id, id))
      )[0]
    at("2026-05-01T08:00:31Z")
    // Nothing but the clock moved: the rows still say what they said at acceptance.
    expect((await stored(gone.body.id))?.status).toBe("queued")
    expect((await stored(later.body.id))?.status).toBe("scheduled")
    await f.app.decorator.background.settler.runOnce()
    expect(await stored(gone.body.id)).toMatchObject({
      status: "failed",
      finishedAt: expect.any(Date),
    })
    expect((await stored(later.body.id))?.status).toBe("queued")
  })

  test("quiet hours hold a normal notification until they end and let a high one through", async () => {
    await prefs({ time_zone: "Europe/Madrid", quiet_hours: { start: "22:00", end: "08:00" } })
    at("2026-05-01T21:30:00Z") // 23:30 in Madrid
    const normal = await notify({ text: "normal" })
    const high = await notify({ text: "high", priority: "high" })
    const night = await lease()
    expect(night.deliveries.map((d) => d.text)).toEqual(["high"])
    await sendAll(night)
    expect((await show(normal.body.id)).status).toBe("queued")
    expect((await show(high.body.id)).status).toBe("sent")
    at("2026-05-02T05:59:59Z") // 07:59:59
    expect((await lease()).deliveries).toEqual([])
    at("2026-05-02T06:00:00Z") // 08:00: over
    const morning = await lease()
    expect(morning.deliveries.map((d) => d.text)).toEqual(["normal"])
    await sendAll(morning)
    expect((await show(normal.body.id)).status).toBe("sent")
  })

  test("muted or category off → skipped (muted); high goes through a mute, never a category off", async () => {
    await prefs({ muted_until: "2026-05-01T09:00:00Z", categories: { billing: false } })
    const muted = await notify({ text: "muted" })
    const urgent = await notify({ text: "urgent", priority: "high" })
    const off = await notify({ text: "invoice", category: "billing", priority: "high" })
    const leased = await lease()
    expect(leased.deliveries.map((d) => d.text)).toEqual(["urgent"])
    await sendAll(leased)
    expect((await lease()).deliveries).toEqual([])
    expect(await show(muted.body.id)).toMatchObject({
      status: "skipped",
      deliveries: [{ status: "skipped", error: "muted", sent_at: null }],
    })
    expect((await show(off.body.id)).status).toBe("skipped")
    expect((await show(urgent.body.id)).status).toBe("sent")
    // A change applies to what is already queued: switched off after acceptance, still skipped.
    const queued = await notify({ text: "news", category: "news" })
    expect(
      (await req(f.app, "GET", "/api/telegram/preferences", { token: f.bob.key })).body.categories,
    ).toEqual({
      general: true,
      billing: false,
      news: true,
    })
    await prefs({ categories: { news: false } })
    expect((await lease()).deliveries).toEqual([])
    expect((await show(queued.body.id)).status).toBe("skipped")
    // Once the mute is over, normal ones go again.
    at("2026-05-01T09:00:00Z")
    await notify({ text: "back" })
    expect((await lease()).deliveries.map((d) => d.text)).toEqual(["back"])
  })

  test("translations: each chat gets its language's version, and the status shows which", async () => {
    await ctx.db.insert(telegramLinks).values([
      { telegramChatId: 502, userId: f.bob.user.id, languageCode: "ru" },
      { telegramChatId: 503, userId: f.bob.user.id, languageCode: "de" },
    ])
    const res = await notify({
      text: "Your reading is ready",
      translations: { ru: "Ваше толкование готово", es: "Tu lectura está lista" },
    })
    const leased = await lease()
    expect(leased.deliveries.map((d) => [d.telegram_chat_id, d.language, d.text])).toEqual([
      [501, "en", "Your reading is ready"],
      [502, "ru", "Ваше толкование готово"],
      [503, "en", "Your reading is ready"],
    ])
    await sendAll(leased)
    expect(
      (await show(res.body.id)).deliveries.map((d: { language: string }) => d.language),
    ).toEqual(["en", "ru", "en"])
    // The user's language setting comes first (here: Spanish everywhere).
    await prefs({ language: "es" })
    await notify({ text: "Hello", translations: { es: "Hola" } })
    expect((await lease()).deliveries.map((d) => [d.language, d.messages[0]?.text])).toEqual([
      ["es", "Hola"],
      ["es", "Hola"],
      ["es", "Hola"],
    ])
  })

  test("a waiting lease wakes when a delivery expires and fails it then, with nobody asking", async () => {
    // The real clock; no timer re-checks within the test: only the expiry itself wakes the lease.
    const app = makeApp(ctx.db, { deliveries: { recheckMs: 600_000 } }).app
    // Quiet hours around the real now (UTC): the delivery waits for them, and expires first.
    const hhmm = (ms: number) => new Date(Date.now() + ms).toISOString().slice(11, 16)
    await prefs({ quiet_hours: { start: hhmm(-3_600_000), end: hhmm(3_600_000) } })
    const expiresAt = new Date(Date.now() + 1_000)
    const accepted = await req(app, "POST", "/api/telegram/notifications", {
      token: f.notifier.key,
      body: { username: "bob", text: "in a second", expires_at: expiresAt.toISOString() },
    })
    expect(accepted.body.status).toBe("queued")
    const stop = new AbortController()
    let answered = false
    const waiting = req(app, "POST", "/api/telegram/deliveries/lease", {
      token: f.svc.key,
      body: { wait_seconds: 25 },
      signal: stop.signal,
    }).finally(() => {
      answered = true
    })
    const status = async () =>
      (await ctx.db.select().from(notificationDeliveries))[0]?.status as string
    while ((await status()) === "queued") await Bun.sleep(20)
    const failedAt = Date.now()
    expect(await ctx.db.select().from(notificationDeliveries)).toMatchObject([
      { status: "failed", error: "expired" },
    ])
    const [row] = await ctx.db.select().from(notifications)
    expect(row?.status).toBe("failed")
    // Within 5 seconds of the instant, by the lease still waiting (not by its end at 25 s).
    expect(failedAt - expiresAt.getTime()).toBeLessThan(5_000)
    expect(answered).toBe(false)
    stop.abort()
    await waiting.catch(() => undefined)
  })
})
