// What a notification can carry, as the bot receives it in a lease (every field, HTML, lengths,
// split parts) and the idempotency key over all of it — on both databases, through real HTTP.
import { expect, test } from "bun:test"
import { describeEachDb } from "./helpers"
import { type Leased, richFixture } from "./notify-fixture"
import { parseTelegramHtml } from "./telegram-html"

describeEachDb("rich notifications", (ctx) => {
  const f = richFixture(ctx)
  const { notify, lease, report, sendAll, show } = f

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
