// What a notification can carry, as the bot receives it in a lease, and the user's preferences
// applied when a delivery comes due — on both databases, through real HTTP handling, with an
// injected clock for send_at, expires_at, mutes and quiet hours.
import { beforeEach, expect, test } from "bun:test"
import { telegramLinks } from "@nps/db"
import { describeEachDb, makeApp, req, seedServiceKey, seedUser } from "./helpers"
import { parseTelegramHtml } from "./telegram-html"

type App = ReturnType<typeof makeApp>["app"]
type Seeded = Awaited<ReturnType<typeof seedUser>>
interface Leased {
  id: number
  notification_id: string
  telegram_chat_id: number
  text: string
  messages: ({ text: string; reply_markup?: unknown } & Record<string, unknown>)[]
  language: string
}

describeEachDb("rich notifications", (ctx) => {
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
    await ctx.db.insert(telegramLinks).values({ telegramChatId: 501, userId: bob.user.id })
  })

  const at = (iso: string) => {
    clock = new Date(iso)
  }
  const notify = (body: object) =>
    req(app, "POST", "/api/telegram/notifications", {
      token: notifier.key,
      body: { username: "bob", ...body },
    })
  const lease = async () => {
    const { body } = await req(app, "POST", "/api/telegram/deliveries/lease", {
      token: svc.key,
      body: {},
    })
    return body as { lease_id: string; deliveries: Leased[] }
  }
  const report = (leased: { lease_id: string }, results: object[]) =>
    req(app, "POST", "/api/telegram/deliveries/report", {
      token: svc.key,
      body: { results: results.map((r) => ({ lease_id: leased.lease_id, ...r })) },
    })
  const sendAll = async (leased: { lease_id: string; deliveries: Leased[] }) =>
    report(
      leased,
      leased.deliveries.map((d) => ({ id: d.id, outcome: "sent" })),
    )
  const show = async (id: string) =>
    (await req(app, "GET", `/api/telegram/notifications/${id}`, { token: notifier.key })).body
  const prefs = (body: object) =>
    req(app, "PUT", "/api/telegram/preferences", { token: bob.key, body })

  test("every field arrives in the lease's messages exactly as the Bot API takes it", async () => {
    const buttons = [
      [{ text: "Open", url: "https://example.com/r/42" }],
      [
        { text: "App", url: "tg://resolve?domain=nps_bot" },
        { text: "Help", url: "https://example.com/help" },
      ],
    ]
    const text = '<b>Reading</b> for <a href="https://example.com/r/42">you</a> &amp; yours'
    const res = await notify({
      text,
      format: "html",
      buttons,
      silent: true,
      protect_content: true,
      link_preview: false,
    })
    expect(res.status).toBe(202)
    const { deliveries } = await lease()
    expect(deliveries[0]?.messages).toEqual([
      {
        text,
        parse_mode: "HTML",
        reply_markup: { inline_keyboard: buttons },
        disable_notification: true,
        protect_content: true,
        link_preview_options: { is_disabled: true },
      },
    ])
    expect(deliveries[0]?.text).toBe(text)
  })

  test("defaults add nothing; HTML is only what Telegram parses; lengths count UTF-16 units of visible text", async () => {
    await notify({
      text: "<b>not html</b>",
      silent: false,
      protect_content: false,
      link_preview: true,
    })
    expect((await lease()).deliveries[0]?.messages).toEqual([{ text: "<b>not html</b>" }])

    const accepted = [
      `<b>${"x".repeat(4096)}</b>`, // 4096 visible characters, tags aside
      "&amp;".repeat(4096), // each entity is one character
      "😀".repeat(2048), // 2 units each: 4096
      '<pre><code class="language-ts">const a = 1 &lt; 2</code></pre>',
      '<blockquote expandable>q</blockquote><span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler>',
    ]
    for (const text of accepted)
      expect({ text, status: (await notify({ text, format: "html" })).status }).toEqual({
        text,
        status: 202,
      })
    for (const [text, error] of [
      [`<b>${"x".repeat(4097)}</b>`, "validation_error"],
      ["😀".repeat(2049), "validation_error"],
      ["<b>   </b>", "validation_error"],
      ["<div>x</div>", "invalid_html"],
      ["<b>x</i>", "invalid_html"],
      ["1 < 2", "invalid_html"],
      ["<b><pre>x</pre></b> <code><b>x</b></code>", "invalid_html"],
    ] as const) {
      const res = await notify({ text, format: "html" })
      expect({ text, status: res.status, error: res.body.error }).toEqual({
        text,
        status: 422,
        error,
      })
    }
    const offset = await notify({ text: "ok <b>bold</b> <u>x</b>", format: "html" })
    expect(offset.body.message).toBe(
      "text: Invalid HTML at character 19: </b> where </u> was expected",
    )
    const lone = await notify({ text: "broken \ud800 text" })
    expect([lone.status, lone.body.message]).toEqual([
      422,
      expect.stringContaining("lone surrogate"),
    ])
  })

  test("buttons, category, priority, send_at and expires_at are checked", async () => {
    const button = { text: "Open", url: "https://example.com" }
    const bad: [object, string][] = [
      [{ buttons: [[button], [button], [button], [button]] }, "buttons"],
      [{ buttons: [[button, button, button, button]] }, "buttons"],
      [{ buttons: [[{ ...button, url: "http://example.com" }]] }, "url"],
      [{ buttons: [[{ ...button, url: "https://" }]] }, "url"],
      [{ buttons: [[{ ...button, text: "x".repeat(65) }]] }, "text"],
      [{ buttons: [[{ text: "Open" }]] }, "url"],
      [{ buttons: [[]] }, "buttons"],
      [{ category: "Billing!" }, "category"],
      [{ priority: "urgent" }, "priority"],
      [{ send_at: "2026-06-01T08:00:01Z" }, "send_at"], // 31 days ahead
      [{ send_at: "soon" }, "send_at"],
      [{ expires_at: "2026-05-01T08:00:00Z" }, "expires_at"], // not after now
      [{ send_at: "2026-05-01T10:00:00Z", expires_at: "2026-05-01T09:00:00Z" }, "expires_at"],
      [{ translations: { de: "Hallo" } }, "translations"],
      [{ translations: { ru: "" } }, "translations"],
      [{ translations: { ru: "<b>x", es: "y" }, format: "html" }, "translations.ru"],
      [{ text: "x".repeat(32_769), split: true }, "32768"],
    ]
    for (const [body, names] of bad) {
      const res = await notify({ text: "hi", ...body })
      expect({ body, status: res.status }).toEqual({ body, status: 422 })
      expect(res.body.message).toContain(names)
    }
  })

  test("split: parts in order, each within 4096 and balanced, buttons on the last; a retry sends only the rest", async () => {
    const paragraph = (n: number) => `<b>Part ${n}</b> ${"word ".repeat(300)}`
    const text = `<i>${Array.from({ length: 8 }, (_, n) => paragraph(n)).join("\n\n")}</i>`
    const buttons = [[{ text: "Open", url: "https://example.com" }]]
    const res = await notify({ text, format: "html", split: true, buttons })
    expect(res.status).toBe(202)
    const first = await lease()
    const messages = first.deliveries[0]?.messages ?? []
    expect(messages.length).toBeGreaterThan(1)
    const visible = messages.map((m) => {
      const parsed = parseTelegramHtml(m.text)
      expect(parsed.ok).toBe(true)
      return parsed.ok ? parsed.text : ""
    })
    // Cut at blank lines (kept at the end of a part), in order, nothing lost; all still italic.
    expect(visible.join("")).toBe((parseTelegramHtml(text, 32_768) as { text: string }).text)
    for (const part of visible.slice(0, -1)) expect(part).toEndWith("\n\n")
    for (const m of messages) expect(m.text).toStartWith("<i>")
    expect(messages.map((m) => m.reply_markup ?? null)).toEqual([
      ...messages.slice(1).map(() => null),
      { inline_keyboard: buttons },
    ])
    // Telegram took two parts, then said 429: the next lease hands only the rest.
    const [d] = first.deliveries as [Leased]
    await report(first, [{ id: d.id, outcome: "retry", parts_sent: 2 }])
    const second = await lease()
    expect(second.deliveries[0]?.messages).toEqual(messages.slice(2))
    expect(second.deliveries[0]?.text).toBe(messages[2]?.text)
    await sendAll(second)
    expect((await show(res.body.id)).status).toBe("sent")

    // Plain text without a blank line or line break: cut at the last space, else hard.
    await notify({ text: `${"a".repeat(4090)} ${"b".repeat(10)}`, split: true })
    expect((await lease()).deliveries[0]?.messages).toEqual([
      { text: `${"a".repeat(4090)} ` },
      { text: "b".repeat(10) },
    ])
  })

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
      (await req(app, "GET", "/api/telegram/preferences", { token: bob.key })).body.categories,
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
      { telegramChatId: 502, userId: bob.user.id, languageCode: "ru" },
      { telegramChatId: 503, userId: bob.user.id, languageCode: "de" },
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

  test("the idempotency key covers every field", async () => {
    const body = {
      text: "<b>hi</b>",
      format: "html",
      buttons: [[{ text: "Open", url: "https://example.com" }]],
      category: "billing",
      send_at: "2026-05-01T09:00:00Z",
      translations: { ru: "<b>привет</b>" },
      idempotency_key: "k-1",
    }
    const first = await notify(body)
    expect(first.status).toBe(202)
    expect((await notify(body)).status).toBe(200)
    for (const change of [
      { silent: true },
      { priority: "high" },
      { translations: { ru: "<b>здравствуй</b>" } },
      { send_at: "2026-05-01T09:00:01Z" },
      { expires_at: "2026-05-02T00:00:00Z" },
      { split: true },
      { link_preview: false },
    ]) {
      const res = await notify({ ...body, ...change })
      expect({ change, status: res.status }).toEqual({ change, status: 409 })
    }
  })
})
