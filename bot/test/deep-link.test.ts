// One-tap linking end to end: the user's app asks the real API for a link token, Telegram (the
// stand-in) delivers `/start <token>` when the user opens t.me/<bot>?start=<token>, the bot
// redeems it through the API, and the chat is linked — on both databases.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test"
import { telegramLinks, telegramLinkTokens } from "@nps/db"
import { req } from "@nps/testing/api"
import { eq, sql } from "drizzle-orm"
import {
  DB_TIMEOUT,
  drivers,
  type Harness,
  openRealApi,
  type RealApi,
  seedUser,
  startHarness,
  textsTo,
} from "./harness"

let nextChat = 50_000
let nextUser = 0

for (const driver of drivers()) {
  describe(`/start <token> [${driver}]`, () => {
    let realApi: RealApi
    let h: Harness

    beforeAll(async () => {
      realApi = await openRealApi(driver)
    }, DB_TIMEOUT)
    afterAll(async () => {
      await realApi.close()
    })
    afterEach(async () => {
      await h?.close()
    })

    /** A user and the token their app got from POST /api/telegram/link-tokens. */
    const userWithToken = async () => {
      const username = `tapper${nextUser++}`
      const { key, user } = await seedUser(realApi.db, { username })
      const res = await req(realApi.app, "POST", "/api/telegram/link-tokens", { token: key })
      expect(res.status).toBe(201)
      return { username, user, token: res.body.token as string }
    }
    const linkOf = async (chatId: number) =>
      (
        await realApi.db
          .select()
          .from(telegramLinks)
          .where(eq(telegramLinks.telegramChatId, chatId))
      )[0]

    test("opening the link links the chat in one tap; the token is then spent and never shown or logged", async () => {
      h = await startHarness({ realApi })
      const { username, user, token } = await userWithToken()
      const chat = nextChat++
      const [reply] = await h.standIn.say(chat, `/start ${token}`, {
        from: { username: "tapper_tg" },
      })
      expect(reply).toContain("Account linked")
      expect(reply).toContain(`Welcome, ${username}`)
      expect(await linkOf(chat)).toMatchObject({ userId: user.id, telegramUsername: "tapper_tg" })
      const [status] = await h.standIn.say(chat, "/status")
      expect(status).toContain(username)

      // The same link opened again, here or from another chat: spent.
      const other = nextChat++
      const [again] = await h.standIn.say(other, `/start ${token}`)
      expect(again).toMatch(/expired/i)
      expect(again).toContain("POST /api/telegram/link-tokens")
      expect(await linkOf(other)).toBeUndefined()

      await h.nps.idle()
      const sent = JSON.stringify(h.standIn.sent().map((c) => c.params))
      expect(sent).not.toContain(token)
      // The logger scrubs link tokens; not even a scrubbed one may have been logged.
      expect(h.logs.text()).not.toContain("npslink_")
      expect(h.logs.find("update handled").map((l) => l.outcome)).toEqual([
        "linked_by_token",
        "linked",
        "invalid_token",
      ])
    })

    test("an expired or unknown token is refused with how to get a new link", async () => {
      h = await startHarness({ realApi })
      const { token } = await userWithToken()
      await realApi.db
        .update(telegramLinkTokens)
        .set({ expiresAt: sql`now() - interval '1 second'` })
        .where(
          eq(
            telegramLinkTokens.tokenHash,
            new Bun.CryptoHasher("sha256").update(token).digest("hex"),
          ),
        )
      const chat = nextChat++
      for (const text of [
        `/start ${token}`,
        `/start npslink_${"n".repeat(43)}`,
        "/start bad$token",
      ]) {
        const [reply] = await h.standIn.say(chat, text)
        expect(reply).toMatch(/expired/i)
        expect(reply).toContain("/link")
      }
      expect(await linkOf(chat)).toBeUndefined()
    })

    test("/start <token> outside a private chat links nothing, and the token still works in private", async () => {
      h = await startHarness({ realApi })
      const { username, token } = await userWithToken()
      const group = -1_001_000_000_000 - nextChat++
      h.standIn.chat(group, { type: "supergroup" })
      const [reply] = await h.standIn.say(group, `/start ${token}`)
      expect(reply).toContain("private chat")
      expect(await linkOf(group)).toBeUndefined()
      const chat = nextChat++
      expect((await h.standIn.say(chat, `/start ${token}`))[0]).toContain(`Welcome, ${username}`)
    })

    test("plain /start still welcomes, presenting the one-tap link before /link", async () => {
      h = await startHarness({ realApi })
      const chat = nextChat++
      const [reply = ""] = await h.standIn.say(chat, "/start")
      expect(reply).toContain("NPS Oracle Bot")
      expect(reply.indexOf("POST /api/telegram/link-tokens")).toBeGreaterThan(0)
      expect(reply.indexOf("POST /api/telegram/link-tokens")).toBeLessThan(
        reply.indexOf("/link YOUR_API_KEY"),
      )
      expect(reply).toContain("POST /api/auth/api-keys")
      expect(reply).not.toMatch(/web app/i)
      expect(textsTo(h.standIn, chat)).toHaveLength(1)
    })

    test("/help and /link's usage put the one-tap link first and say where keys come from", async () => {
      h = await startHarness({ realApi })
      const chat = nextChat++
      const [help = ""] = await h.standIn.say(chat, "/help")
      expect(help.indexOf("link-tokens")).toBeLessThan(help.indexOf("/link <api_key>"))
      const [usage = ""] = await h.standIn.say(chat, "/link")
      expect(usage).toContain("Usage: /link")
      expect(usage.indexOf("POST /api/telegram/link-tokens")).toBeLessThan(
        usage.indexOf("POST /api/auth/api-keys"),
      )
      expect(usage).toContain("admin CLI")
      for (const text of [help, usage]) expect(text).not.toMatch(/web app/i)
    })
  })
}
