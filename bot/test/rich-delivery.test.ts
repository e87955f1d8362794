// Rich notifications end to end: the real API (both databases) hands the bot each delivery's
// messages; the bot sends them exactly as given; the stand-in checks them as Telegram does.
import { afterEach, describe, expect, test } from "bun:test"
import { notifications, telegramLinks } from "@nps/db"
import { req } from "@nps/testing/api"
import { parseTelegramHtml } from "@nps/testing/stand-in-html"
import { eq } from "drizzle-orm"
import {
  deferred,
  drivers,
  type Harness,
  inProcessApi,
  realApiWithNotifier,
  seedUser,
  startHarness,
} from "./harness"

let nextChat = 970_000
let nextUser = 0

for (const driver of drivers()) {
  describe(`rich notifications [${driver}]`, () => {
    const suite = realApiWithNotifier(driver, "rich-sender")
    let h: Harness
    afterEach(async () => {
      await h?.close()
      await suite.realApi.db.delete(notifications)
    })

    const reader = async (...chats: number[]) => {
      const seeded = await seedUser(suite.realApi.db, { username: `rich${nextUser++}` })
      await suite.realApi.db
        .insert(telegramLinks)
        .values(chats.map((chatId) => ({ telegramChatId: chatId, userId: seeded.user.id })))
      return seeded.user.username
    }
    const notify = async (body: object) => {
      const res = await req(suite.realApi.app, "POST", "/api/telegram/notifications", {
        token: suite.notifier,
        body,
      })
      expect(res.status).toBe(202)
      return (res.body as { id: string }).id
    }
    const delivering = () =>
      startHarness({ realApi: suite.realApi, deliveries: { waitSeconds: 1 } }).then((started) => {
        h = started
        return started
      })

    test("HTML, buttons, silent, protected, no preview: every field arrives as the API gave it", async () => {
      await delivering()
      const chat = nextChat++
      const username = await reader(chat)
      await notify({
        username,
        text: '<b>Disk</b> at 91% on <code>db-1</code> — <a href="https://status.example.com">status</a>',
        format: "html",
        buttons: [[{ text: "Open dashboard", url: "https://grafana.example.com/d/1" }]],
        silent: true,
        protect_content: true,
        link_preview: false,
      })
      const call = await h.standIn.waitForCall("sendMessage", (c) => c.params.chat_id === chat)
      expect(call.status).toBe(200)
      expect(call.params).toMatchObject({
        parse_mode: "HTML",
        reply_markup: {
          inline_keyboard: [[{ text: "Open dashboard", url: "https://grafana.example.com/d/1" }]],
        },
        disable_notification: true,
        protect_content: true,
        link_preview_options: { is_disabled: true },
      })
      const shown = (call.response as { result: { text: string; entities: { type: string }[] } })
        .result
      expect(shown.text).toBe("Disk at 91% on db-1 — status")
      expect(shown.entities.map((e) => e.type)).toEqual(["bold", "code", "text_link"])
    })

    test("a split text arrives as its parts, in order, balanced, buttons on the last", async () => {
      await delivering()
      const chat = nextChat++
      const username = await reader(chat)
      const paragraph = (i: number) => `<b>Part ${i}</b> ${"lorem ipsum ".repeat(150)}`
      const text = Array.from({ length: 6 }, (_, i) => paragraph(i)).join("\n\n")
      await notify({
        username,
        text,
        format: "html",
        split: true,
        buttons: [[{ text: "More", url: "https://example.com/more" }]],
      })
      // The last part is the one with the buttons.
      await h.standIn.waitForCall(
        "sendMessage",
        (c) => c.params.chat_id === chat && c.params.reply_markup !== undefined,
        { timeoutMs: 10_000 },
      )
      const calls = h.standIn.sent(chat)
      const parts = calls.map((c) => String(c.params.text))
      expect(calls.every((c) => c.status === 200)).toBe(true)
      expect(calls.length).toBeGreaterThanOrEqual(2)
      for (const part of parts) expect(parseTelegramHtml(part).ok).toBe(true)
      // In order: each part's first "Part n" follows the previous part's last.
      const numbers = parts.flatMap((p) => [...p.matchAll(/Part (\d)/g)].map((m) => Number(m[1])))
      expect(numbers).toEqual([...numbers].sort())
      expect(calls.at(-1)?.params.reply_markup).toEqual({
        inline_keyboard: [[{ text: "More", url: "https://example.com/more" }]],
      })
      expect(calls.slice(0, -1).every((c) => c.params.reply_markup === undefined)).toBe(true)
    })

    test("a part refused midway: the parts already sent are reported, and only the rest goes again", async () => {
      h = await startHarness({
        realApi: suite.realApi,
        deliveries: { waitSeconds: 1, retryBackoff: { initialSeconds: 0, maxSeconds: 0 } },
      })
      const chat = nextChat++
      const username = await reader(chat)
      // Telegram fails the second part once (a 500), after taking the first.
      const stop = h.standIn.onCall((call) => {
        if (call.method !== "sendMessage" || call.params.chat_id !== chat) return
        stop()
        h.standIn.fail("sendMessage", { status: 500 })
      })
      const text = ["one", "two", "three"].map((w) => `${w} ${"x".repeat(3_000)}`).join("\n\n")
      const id = await notify({ username, text, split: true })
      await h.standIn.waitForCall(
        "sendMessage",
        (c) =>
          c.params.chat_id === chat &&
          c.status === 200 &&
          String(c.params.text).startsWith("three"),
        { timeoutMs: 10_000 },
      )
      const accepted = h.standIn
        .sent(chat)
        .filter((c) => c.status === 200)
        .map((c) => String(c.params.text).split(" ")[0])
      expect(accepted).toEqual(["one", "two", "three"])
      expect(h.standIn.sent(chat).filter((c) => c.status === 500)).toHaveLength(1)
      const shown = await req(suite.realApi.app, "GET", `/api/telegram/notifications/${id}`, {
        token: suite.notifier,
      })
      expect((shown.body as { deliveries: { status: string }[] }).deliveries[0]?.status).toMatch(
        /sent|queued/,
      )
    })

    test("a delivery refused with 403 is recorded once, by its report (no separate blocked call)", async () => {
      let blockedCalls = 0
      const reported = deferred()
      h = await startHarness({
        deliveries: { waitSeconds: 1 },
        apiFactory: (logger) => {
          const inner = inProcessApi(suite.realApi, logger)
          return {
            ...inner,
            report: async (results) => {
              const result = await inner.report(results)
              reported.resolve()
              return result
            },
            setBlocked: (chatId, blocked) => {
              blockedCalls++
              return inner.setBlocked(chatId, blocked)
            },
          }
        },
      })
      const chat = nextChat++
      const username = await reader(chat)
      h.standIn.fail("sendMessage", { status: 403 })
      const id = await notify({ username, text: "to a chat that blocked the bot" })
      await h.standIn.waitForCall("sendMessage", (c) => c.params.chat_id === chat)
      await reported.promise
      const shown = (
        await req(suite.realApi.app, "GET", `/api/telegram/notifications/${id}`, {
          token: suite.notifier,
        })
      ).body as { deliveries: { status: string; error: string | null }[] } | undefined
      expect(shown?.deliveries[0]).toMatchObject({ status: "failed", error: "blocked" })
      const [link] = await suite.realApi.db
        .select()
        .from(telegramLinks)
        .where(eq(telegramLinks.telegramChatId, chat))
      expect(link?.blockedAt).not.toBeNull()
      expect(blockedCalls).toBe(0)
    })

    test("a translation reaches the chat that speaks it, the text the one that does not", async () => {
      await delivering()
      const russian = nextChat++
      const english = nextChat++
      const username = await reader(russian, english)
      // Each chat's client language reaches the API with the chat's first update.
      await h.standIn.say(russian, "/help", { from: { language_code: "ru" } })
      await h.standIn.say(english, "/help", { from: { language_code: "en" } })
      await notify({
        username,
        text: "Your reading is ready",
        translations: { ru: "Ваше прочтение готово" },
      })
      const since = h.standIn.calls.length
      const delivered = async (chat: number) => {
        const call = await h.standIn.waitForCall("sendMessage", (c) => c.params.chat_id === chat, {
          since,
        })
        return String(call.params.text)
      }
      expect(await delivered(russian)).toBe("Ваше прочтение готово")
      expect(await delivered(english)).toBe("Your reading is ready")
    })
  })
}

describe("the stand-in checks a message as Telegram does", () => {
  const send = async (standIn: { url: string; token: string }, params: object) => {
    const res = await fetch(`${standIn.url}/bot${standIn.token}/sendMessage`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ chat_id: 42, ...params }),
    })
    return (await res.json()) as { ok: boolean; description?: string }
  }

  test("refuses a button without url or callback_data, HTML it cannot parse, an unknown parse_mode", async () => {
    const { startBotApiStandIn } = await import("@nps/testing/stand-in")
    const standIn = await startBotApiStandIn()
    try {
      expect(
        await send(standIn, { text: "x", reply_markup: { inline_keyboard: [[{ text: "bare" }]] } }),
      ).toEqual({
        ok: false,
        error_code: 400,
        description:
          "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
      } as never)
      expect((await send(standIn, { text: "<b>bold", parse_mode: "HTML" })).description).toBe(
        `Bad Request: can't parse entities: Can't find end tag corresponding to start tag "b"`,
      )
      expect((await send(standIn, { text: "a <foo> b", parse_mode: "HTML" })).description).toBe(
        `Bad Request: can't parse entities: Unsupported start tag "foo" at byte offset 2`,
      )
      expect(
        (await send(standIn, { text: "<b><i>x</b></i>", parse_mode: "HTML" })).description,
      ).toBe(
        `Bad Request: can't parse entities: Unmatched end tag at byte offset 7, expected "</i>", found "</b>"`,
      )
      expect((await send(standIn, { text: "x", parse_mode: "Klingon" })).description).toBe(
        "Bad Request: unsupported parse_mode",
      )
      expect((await send(standIn, { text: "Ü &amp; <i>ok</i>", parse_mode: "HTML" })).ok).toBe(true)
    } finally {
      await standIn.close()
    }
  })
})
