// /settings, /timezone and button taps: the real API (both databases), the bot, and the Bot API
// stand-in delivering callback queries as Telegram does.
import { afterEach, describe, expect, test } from "bun:test"
import { notifications } from "@nps/db"
import { req } from "@nps/testing/api"
import type { BotApiStandIn } from "@nps/testing/stand-in"
import { categorySwitch, settingsAction } from "../src/commands/settings-screen"
import { drivers, type Harness, realApiWithNotifier, seedUser, startHarness } from "./harness"

let nextChat = 930_000
let nextUser = 0

/** Every button's label under a message, row by row. */
const labels = (standIn: BotApiStandIn, chatId: number, messageId: number) =>
  (
    (
      standIn.botMessage(chatId, messageId)?.reply_markup as
        | { inline_keyboard: { text: string }[][] }
        | undefined
    )?.inline_keyboard ?? []
  ).map((row) => row.map((b) => b.text))

for (const driver of drivers()) {
  describe(`/settings [${driver}]`, () => {
    const suite = realApiWithNotifier(driver, "settings-sender")
    let h: Harness
    afterEach(async () => {
      await h?.close()
      await suite.realApi.db.delete(notifications)
    })

    /** A chat linked with /link, and the user's key. */
    const linked = async () => {
      const seeded = await seedUser(suite.realApi.db, { username: `settings${nextUser++}` })
      const chat = nextChat++
      const [reply] = await h.standIn.say(chat, `/link ${seeded.key}`)
      expect(reply).toContain("Account linked")
      return { chat, ...seeded }
    }
    const preferences = async (key: string) =>
      (await req(suite.realApi.app, "GET", "/api/telegram/preferences", { token: key })).body as {
        muted_until: string | null
        quiet_hours: unknown
        categories: Record<string, boolean>
        time_zone: string
      }
    /** Taps a button and resolves once the tap was answered (and edited, when `edits`). */
    const tap = async (chat: number, data: string, options: { from?: { id: number } } = {}) => {
      const since = h.standIn.calls.length
      const update = h.standIn.callbackQuery(chat, data, options)
      const answer = await h.standIn.waitForCall("answerCallbackQuery", () => true, { since })
      await h.nps.settled(update.update_id)
      const edits = h.standIn.calls.filter(
        (c) => c.index >= since && c.method === "editMessageText",
      )
      return { answer, edits }
    }

    test("a tap on a category switches it off, answers the tap and edits the same message", async () => {
      h = await startHarness({ realApi: suite.realApi })
      const { chat, key } = await linked()
      const [screen] = await h.standIn.say(chat, "/settings")
      expect(screen).toContain("Notifications")
      const message = h.standIn.sent(chat).at(-1)?.response as { result: { message_id: number } }
      const id = message.result.message_id
      expect(labels(h.standIn, chat, id)).toEqual([
        ["✅ general"],
        ["Mute 1 hour", "Mute 8 hours"],
        ["Quiet hours 22:00–08:00"],
      ])
      const sentBefore = h.standIn.sent(chat).length

      const { answer, edits } = await tap(chat, categorySwitch.pack({ to: "off", name: "general" }))
      expect(answer.status).toBe(200)
      expect(answer.params.text).toBe("Saved")
      expect(edits).toHaveLength(1)
      expect(edits[0]?.status).toBe(200)
      expect(edits[0]?.params.message_id).toBe(id)
      expect(labels(h.standIn, chat, id)[0]).toEqual(["🔕 general"])
      expect(h.standIn.sent(chat)).toHaveLength(sentBefore) // no new message
      expect((await preferences(key)).categories.general).toBe(false)

      // The switched-off category holds back the next notification of that category.
      const { username } = (await req(suite.realApi.app, "GET", "/api/auth/me", { token: key }))
        .body as {
        username: string
      }
      const sent = await req(suite.realApi.app, "POST", "/api/telegram/notifications", {
        token: suite.notifier,
        body: { username, text: "held back", category: "general" },
      })
      expect(sent.status).toBe(202)
      const lease = await req(suite.realApi.app, "POST", "/api/telegram/deliveries/lease", {
        token: suite.realApi.serviceKey,
        body: { max: 10, wait_seconds: 0 },
      })
      expect((lease.body as { deliveries: unknown[] }).deliveries).toHaveLength(0)
      const notification = (sent.body as { id: string }).id
      const shown = await req(
        suite.realApi.app,
        "GET",
        `/api/telegram/notifications/${notification}`,
        {
          token: suite.notifier,
        },
      )
      expect(shown.body).toMatchObject({
        status: "skipped",
        deliveries: [{ telegram_chat_id: chat, status: "skipped", error: "muted" }],
      })
    })

    test("mute and quiet hours: the buttons follow the state, and Unmute undoes the mute", async () => {
      h = await startHarness({ realApi: suite.realApi })
      const { chat, key } = await linked()
      await h.standIn.say(chat, "/settings")
      const last = h.standIn.sent(chat).at(-1)?.response
      const id = (last as { result: { message_id: number } }).result.message_id
      await tap(chat, settingsAction.pack({ do: "mute8" }))
      expect(labels(h.standIn, chat, id)[1]).toEqual(["Unmute"])
      expect(String(h.standIn.botMessage(chat, id)?.text)).toContain("Muted until")
      const muted = Date.parse((await preferences(key)).muted_until ?? "")
      expect(muted - Date.now()).toBeGreaterThan(7.9 * 3_600_000)

      await tap(chat, settingsAction.pack({ do: "quiet_on" }))
      expect((await preferences(key)).quiet_hours).toEqual({ start: "22:00", end: "08:00" })
      expect(labels(h.standIn, chat, id)[2]).toEqual(["Turn off quiet hours"])

      await tap(chat, settingsAction.pack({ do: "unmute" }))
      await tap(chat, settingsAction.pack({ do: "quiet_off" }))
      const after = await preferences(key)
      expect(after.muted_until).toBeNull()
      expect(after.quiet_hours).toBeNull()
      expect(labels(h.standIn, chat, id).slice(1)).toEqual([
        ["Mute 1 hour", "Mute 8 hours"],
        ["Quiet hours 22:00–08:00"],
      ])
    })

    test("a forged, stale or someone else's tap changes nothing and is still answered", async () => {
      h = await startHarness({ realApi: suite.realApi })
      const { chat, key } = await linked()
      await h.standIn.say(chat, "/settings")
      const before = await preferences(key)
      const forged = [
        "nonsense",
        `${categorySwitch.pack({ to: "off", name: "general" }).slice(0, 6)}9;general`,
        categorySwitch.pack({ to: "on", name: "invented" }),
        "settings.v0;mute8",
      ]
      for (const data of forged) {
        const { answer, edits } = await tap(chat, data)
        expect(answer.status).toBe(200)
        expect(String(answer.params.text)).toContain("no longer valid")
        expect(edits).toHaveLength(0)
      }
      // A real button, tapped by someone else (a forwarded message, say).
      const { answer, edits } = await tap(chat, settingsAction.pack({ do: "mute8" }), {
        from: { id: chat + 1 },
      })
      expect(String(answer.params.text)).toContain("someone else")
      expect(edits).toHaveLength(0)
      expect(await preferences(key)).toEqual(before)
    })

    test("/settings, /timezone when not linked say Not linked; /timezone sets a zone or refuses", async () => {
      h = await startHarness({ realApi: suite.realApi })
      const stranger = nextChat++
      expect((await h.standIn.say(stranger, "/settings"))[0]).toContain("Not linked")
      expect((await h.standIn.say(stranger, "/timezone Europe/Berlin"))[0]).toContain("Not linked")
      const { chat, key } = await linked()
      const [set] = await h.standIn.say(chat, "/timezone europe/berlin")
      expect(set).toContain("Time zone set")
      expect(set).toContain("Europe/Berlin")
      expect((await preferences(key)).time_zone).toBe("Europe/Berlin")
      const [unknown] = await h.standIn.say(chat, "/timezone Mars/Olympus_Mons")
      expect(unknown).toContain("Unknown time zone")
      expect((await preferences(key)).time_zone).toBe("Europe/Berlin")
      const [screen] = await h.standIn.say(chat, "/settings")
      expect(screen).toContain("Europe/Berlin")
    })
  })
}
