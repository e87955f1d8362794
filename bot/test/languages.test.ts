// The bot speaks its users' language: the Telegram client's language_code, else the user's own
// choice (/language, kept by the API), English for any other. The real API (both databases), the
// bot and the Bot API stand-in.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test"
import { COMMAND_NAMES } from "../src/commands/names"
import { languagePick } from "../src/commands/settings-screen"
import {
  DB_TIMEOUT,
  drivers,
  type Harness,
  openRealApi,
  type RealApi,
  seedProfiles,
  seedUser,
  startHarness,
} from "./harness"

let nextChat = 950_000
let nextUser = 0

/** What each language must say, in the contract's words. */
const PHRASES = {
  ru: {
    linked: "Аккаунт привязан",
    notLinked: "не привязан",
    slowDown: "помедленнее",
    settings: "Уведомления",
    help: "Команды",
    profiles: "2 профиля",
  },
  es: {
    linked: "Cuenta vinculada",
    notLinked: "no vinculado",
    slowDown: "más despacio",
    settings: "Notificaciones",
    help: "Comandos",
    profiles: "2 perfiles",
  },
  de: {
    linked: "Account linked",
    notLinked: "Not linked",
    slowDown: "Slow down",
    settings: "Notifications",
    help: "Commands",
    profiles: "Oracle profiles: 2",
  },
} as const

for (const driver of drivers()) {
  describe(`languages [${driver}]`, () => {
    let realApi: RealApi
    let h: Harness | undefined

    beforeAll(async () => {
      realApi = await openRealApi(driver)
    }, DB_TIMEOUT)
    afterAll(async () => {
      await realApi.close()
    })
    afterEach(async () => {
      await h?.close()
      h = undefined
    })

    for (const [code, phrase] of Object.entries(PHRASES)) {
      test(`a ${code} client gets /start, /help, /status, /settings and the rate limit in its language`, async () => {
        h = await startHarness({ realApi, rateLimit: 8 })
        const chat = nextChat++
        const from = { language_code: code }
        const say = async (text: string) =>
          ((await h?.standIn.say(chat, text, { from })) ?? [])[0] ?? ""

        expect(await say("/start")).toContain("NPS Oracle Bot")
        const help = await say("/help")
        expect(help).toContain(phrase.help)
        for (const name of COMMAND_NAMES) expect(help).toContain(`/${name}`)
        expect((await say("/status")).toLowerCase()).toContain(phrase.notLinked.toLowerCase())
        expect((await say("/settings")).toLowerCase()).toContain(phrase.notLinked.toLowerCase())

        const seeded = await seedUser(realApi.db, { username: `polyglot${nextUser++}` })
        await seedProfiles(realApi.db, seeded.user.id, [
          { name: "Uno", birthday: "1990-05-17" },
          { name: "Dos", birthday: "2001-12-31" },
        ])
        expect(await say(`/link ${seeded.key}`)).toContain(phrase.linked)
        const status = await say("/status")
        expect(status).toContain(seeded.user.username)
        expect(status).toContain(phrase.profiles)
        expect(await say("/settings")).toContain(phrase.settings)
        // The 8th message of the minute was the last one allowed; the 9th gets the notice.
        expect((await say("/help")).length).toBeGreaterThan(0)
        expect((await say("/help")).toLowerCase()).toContain(phrase.slowDown.toLowerCase())
      })
    }

    test("Russian counts take Russian plural forms", async () => {
      h = await startHarness({ realApi })
      const chat = nextChat++
      const seeded = await seedUser(realApi.db, { username: `counter${nextUser++}` })
      const from = { language_code: "ru-RU" }
      await h.standIn.say(chat, `/link ${seeded.key}`, { from })
      const forms: [number, string][] = [
        [1, "1 профиль"],
        [2, "2 профиля"],
        [3, "5 профилей"],
      ]
      let seededSoFar = 0
      for (const [, expected] of forms) {
        const want = Number(expected.split(" ")[0])
        await seedProfiles(
          realApi.db,
          seeded.user.id,
          Array.from({ length: want - seededSoFar }, (_, i) => ({
            name: `P${seededSoFar + i}`,
            birthday: "1990-01-01",
          })),
        )
        seededSoFar = want
        expect((await h.standIn.say(chat, "/status", { from }))[0]).toContain(expected)
        expect((await h.standIn.say(chat, "/profile", { from }))[0]).toContain(expected)
      }
    })

    test("/language switches the language, the answer comes in it, and it survives a restart", async () => {
      h = await startHarness({ realApi })
      const chat = nextChat++
      const from = { language_code: "en" }
      const seeded = await seedUser(realApi.db, { username: `switcher${nextUser++}` })
      await h.standIn.say(chat, `/link ${seeded.key}`, { from })
      await h.standIn.say(chat, "/language", { from })
      const prompt = h.standIn.sent(chat).at(-1)?.params.reply_markup
      expect(
        (prompt as { inline_keyboard: { text: string }[][] }).inline_keyboard
          .flat()
          .map((b) => b.text),
      ).toEqual(["English", "Русский", "Español"])

      const since = h.standIn.calls.length
      const tap = h.standIn.callbackQuery(chat, languagePick.pack({ lang: "es" }), { from })
      const edit = await h.standIn.waitForCall("editMessageText", () => true, { since })
      await h.nps.settled(tap.update_id)
      expect(String(edit.params.text)).toContain("español")
      const answer = h.standIn.calls.find(
        (c) => c.index >= since && c.method === "answerCallbackQuery",
      )
      expect(answer?.params.text).toBe("Guardado")
      expect((await h.standIn.say(chat, "/status", { from }))[0]).toContain("Tu cuenta de NPS")

      // A new bot process knows nothing: the choice comes back from the API.
      await h.close()
      h = await startHarness({ realApi })
      expect((await h.standIn.say(chat, "/help", { from }))[0]).toContain("Comandos")
    })

    test("the command menu and descriptions are registered for every language, every command", async () => {
      h = await startHarness({ realApi })
      const { commands, description, shortDescription } = h.standIn.profile
      expect([...commands.keys()].sort()).toEqual(["", "es", "ru"])
      for (const [code, menu] of commands) {
        expect(menu.map((c) => c.command)).toEqual([...COMMAND_NAMES])
        expect(description.get(code)?.length).toBeGreaterThan(0)
        expect(shortDescription.get(code)?.length).toBeGreaterThan(0)
      }
      expect(commands.get("ru")?.find((c) => c.command === "settings")?.description).toContain(
        "Уведомления",
      )
      expect(commands.get("es")?.find((c) => c.command === "settings")?.description).toContain(
        "Notificaciones",
      )
    })

    test("a command menu Telegram refuses at start is registered later, and the bot serves meanwhile", async () => {
      const { startBotApiStandIn } = await import("@nps/testing/stand-in")
      const standIn = await startBotApiStandIn()
      standIn.fail("setMyCommands", { status: 500 }, 2)
      h = await startHarness({
        realApi,
        standIn,
        polling: { backoff: { initialMs: 10, maxMs: 20 } },
      })
      const [reply] = await standIn.say(nextChat++, "/start")
      expect(reply).toContain("NPS Oracle Bot")
      await standIn.waitForCall("setMyCommands", (c) => c.status === 200 && !c.params.language_code)
      const failures = standIn.calls.filter((c) => c.method === "setMyCommands" && c.status === 500)
      expect(failures).toHaveLength(2)
      await h.close()
      h = undefined
      await standIn.close()
    })
  })
}
