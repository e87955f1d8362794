// Each user's notification preferences through the app's endpoints (the user's own JWT or key)
// and the bot's (by chat), the chat's language code, and the lease's `messages` and `language`
// as the bot receives them — on both databases, through real HTTP handling.
import { beforeEach, expect, test } from "bun:test"
import { telegramLinks } from "@nps/db"
import { describeEachDb, makeApp, req, seedServiceKey, seedUser } from "./helpers"

type App = ReturnType<typeof makeApp>["app"]
type Seeded = Awaited<ReturnType<typeof seedUser>>

const DEFAULTS = {
  muted_until: null,
  time_zone: "UTC",
  quiet_hours: null,
  categories: { general: true },
  language: null,
}

describeEachDb("preferences", (ctx) => {
  let clock: Date
  let app: App
  let svc: Seeded
  let notifier: Seeded
  let bob: Seeded

  beforeEach(async () => {
    clock = new Date("2026-05-01T08:00:00Z")
    app = makeApp(ctx.db, { now: () => clock }).app
    svc = await seedServiceKey(ctx.db)
    notifier = await seedUser(ctx.db, { username: "oracle-service", scopes: ["telegram:notify"] })
    bob = await seedUser(ctx.db, { username: "bob" })
  })

  const link = (userId: string, chatId: number, extra: object = {}) =>
    ctx.db.insert(telegramLinks).values({ telegramChatId: chatId, userId, ...extra })
  const mine = (method: string, body?: object, token = bob.key) =>
    req(app, method, "/api/telegram/preferences", { token, ...(body && { body }) })
  const chat = (method: string, chatId: number, body?: object, token = svc.key) =>
    req(app, method, `/api/telegram/chats/${chatId}/preferences`, {
      token,
      ...(body && { body }),
    })
  const languageCode = (chatId: number, code: string) =>
    req(app, "PUT", `/api/telegram/chats/${chatId}/language-code`, {
      token: svc.key,
      body: { language_code: code },
    })
  const lease = async () =>
    (await req(app, "POST", "/api/telegram/deliveries/lease", { token: svc.key, body: {} })).body
  const notify = (body: object) =>
    req(app, "POST", "/api/telegram/notifications", { token: notifier.key, body })

  test("defaults, then only the fields given change; null clears one", async () => {
    expect((await mine("GET")).body).toEqual(DEFAULTS)
    const changed = await mine("PUT", {
      muted_until: "2026-05-01T10:00:00+02:00",
      time_zone: "europe/madrid",
      quiet_hours: { start: "22:00", end: "08:00" },
      categories: { billing: false },
      language: "es",
    })
    expect(changed.status).toBe(200)
    const full = {
      muted_until: "2026-05-01T08:00:00.000Z",
      time_zone: "Europe/Madrid",
      quiet_hours: { start: "22:00", end: "08:00" },
      categories: { general: true, billing: false },
      language: "es",
    }
    expect(changed.body).toEqual(full)
    expect((await mine("GET")).body).toEqual(full)
    // Only what is present changes.
    expect((await mine("PUT", { categories: { alerts: false } })).body).toEqual({
      ...full,
      categories: { general: true, alerts: false, billing: false },
    })
    expect((await mine("PUT", {})).body.categories).toEqual({
      general: true,
      alerts: false,
      billing: false,
    })
    // null clears: unmuted, back to UTC, no quiet hours, every category on, no language.
    const cleared = await mine("PUT", {
      muted_until: null,
      time_zone: null,
      quiet_hours: null,
      categories: null,
      language: null,
    })
    expect(cleared.body).toEqual({
      ...DEFAULTS,
      categories: { general: true, alerts: true, billing: true },
    })
    // A JWT works as well as a key; the credentials are needed.
    const login = await req(app, "POST", "/api/auth/login", {
      body: { username: "bob", password: bob.password },
    })
    expect((await mine("GET", undefined, login.body.access_token)).status).toBe(200)
    expect((await req(app, "GET", "/api/telegram/preferences")).status).toBe(401)
  })

  test("bad preferences are 422 and change nothing", async () => {
    const cases: [object, string, string][] = [
      [{ time_zone: "Mars/Olympus_Mons" }, "invalid_time_zone", "time zone"],
      [{ time_zone: "+05:00" }, "invalid_time_zone", "time zone"],
      [{ quiet_hours: { start: "22:00", end: "22:00" } }, "validation_error", "quiet_hours"],
      [{ quiet_hours: { start: "24:00", end: "08:00" } }, "validation_error", "quiet_hours"],
      [{ quiet_hours: { start: "7:00", end: "08:00" } }, "validation_error", "quiet_hours"],
      [{ quiet_hours: { start: "22:00" } }, "validation_error", "quiet_hours"],
      [{ muted_until: "tomorrow" }, "validation_error", "muted_until"],
      [{ muted_until: "2026-02-30T10:00:00Z" }, "validation_error", "muted_until"],
      [{ muted_until: "2026-05-01T10:00:00" }, "validation_error", "muted_until"],
      [{ categories: { "Not Valid": true } }, "validation_error", "categories"],
      [{ categories: { billing: "off" } }, "validation_error", "categories"],
      [{ language: "de" }, "validation_error", "language"],
    ]
    for (const [body, error, names] of cases) {
      const res = await mine("PUT", body)
      expect({ body, status: res.status, error: res.body.error }).toEqual({
        body,
        status: 422,
        error,
      })
      expect(res.body.message).toContain(names)
    }
    expect((await mine("GET")).body).toEqual(DEFAULTS)
  })

  test("the bot reads and changes the preferences of a chat's user; an unlinked chat is 404", async () => {
    await link(bob.user.id, 501)
    await link(bob.user.id, 502, { isActive: false })
    const set = await chat("PUT", 501, { categories: { billing: false } })
    expect(set.status).toBe(200)
    expect((await mine("GET")).body.categories).toEqual({ general: true, billing: false })
    expect((await chat("GET", 501)).body.categories).toEqual({ general: true, billing: false })
    for (const id of [502, 999]) {
      for (const res of [await chat("GET", id), await chat("PUT", id, { language: "ru" })])
        expect([res.status, res.body.error]).toEqual([404, "not_linked"])
    }
    // The bot's routes are the bot's: a user's key gets a 403.
    expect((await chat("GET", 501, undefined, bob.key)).status).toBe(403)
  })

  test("the chat's language code is stored; the answer is the user's language setting", async () => {
    await link(bob.user.id, 501)
    expect((await languageCode(501, "ru")).body).toEqual({ language: null })
    await mine("PUT", { language: "es" })
    expect((await languageCode(501, "ru")).body).toEqual({ language: "es" })
    const missing = await languageCode(999, "ru")
    expect([missing.status, missing.body.error]).toEqual([404, "not_linked"])
    expect((await languageCode(501, "x".repeat(36))).status).toBe(422)
    expect((await languageCode(501, "")).status).toBe(422)
  })

  test("a lease hands the bot the messages to send and the language they go in", async () => {
    await link(bob.user.id, 501)
    await link(bob.user.id, 502)
    await link(bob.user.id, 503)
    await languageCode(502, "pt-BR") // a language we do not have: English
    await languageCode(503, "ru")
    const { body: n } = await notify({ username: "bob", text: "Your reading is ready" })
    const { lease_id, deliveries } = await lease()
    expect(deliveries).toEqual(
      [501, 502, 503].map((chatId) => ({
        id: expect.any(Number),
        notification_id: n.id,
        telegram_chat_id: chatId,
        text: "Your reading is ready",
        attempts: 1,
        messages: [{ text: "Your reading is ready" }],
        language: "en",
      })),
    )
    // Reported with parts_sent (a plain text has one part): the status shows the language.
    const results = deliveries.map((d: { id: number }, i: number) =>
      i === 0
        ? { id: d.id, lease_id, outcome: "sent" }
        : { id: d.id, lease_id, outcome: "retry", parts_sent: 0 },
    )
    const reported = await req(app, "POST", "/api/telegram/deliveries/report", {
      token: svc.key,
      body: { results },
    })
    expect(reported.body).toEqual({ applied: 3, stale: 0 })
    const view = await req(app, "GET", `/api/telegram/notifications/${n.id}`, {
      token: notifier.key,
    })
    expect(
      view.body.deliveries.map((d: { status: string; language: string }) => [d.status, d.language]),
    ).toEqual([
      ["sent", "en"],
      ["queued", "en"],
      ["queued", "en"],
    ])
    const bad = await req(app, "POST", "/api/telegram/deliveries/report", {
      token: svc.key,
      body: { results: [{ id: 1, lease_id, outcome: "retry", parts_sent: -1 }] },
    })
    expect([bad.status, bad.body.error]).toEqual([422, "validation_error"])
  })
})
