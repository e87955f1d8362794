// Chats that follow the user, through the Bot API stand-in and the real API: blocking and
// unblocking the bot (my_chat_member), a 403 on a send, and a group becoming a supergroup (service
// messages, or a 400 with migrate_to_chat_id on a send). None of them makes the bot say anything.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test"
import { telegramLinks } from "@nps/db"
import { req } from "@nps/testing/api"
import { eq } from "drizzle-orm"
import {
  DB_TIMEOUT,
  drivers,
  type Harness,
  openRealApi,
  type RealApi,
  seedUser,
  settled,
  startHarness,
  textsTo,
} from "./harness"

let nextChat = 70_000
let nextUser = 0

for (const driver of drivers()) {
  describe(`chats that follow the user [${driver}]`, () => {
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

    /** A user whose chat is linked, as the bot links it (the service key). */
    const linked = async (chatId: number) => {
      const seeded = await seedUser(realApi.db, { username: `follower${nextUser++}` })
      const res = await req(realApi.app, "POST", "/api/telegram/link", {
        token: realApi.serviceKey,
        body: { telegram_chat_id: chatId, api_key: seeded.key },
      })
      expect(res.status).toBe(200)
      return seeded
    }
    /** What GET /api/telegram/links tells the user about this chat. */
    const seenByUser = async (key: string, chatId: number) =>
      (await req(realApi.app, "GET", "/api/telegram/links", { token: key })).body.find(
        (l: { telegram_chat_id: number }) => l.telegram_chat_id === chatId,
      )
    const rowOf = async (chatId: number) =>
      (
        await realApi.db
          .select()
          .from(telegramLinks)
          .where(eq(telegramLinks.telegramChatId, chatId))
      )[0]

    test("the user blocks the bot (kicked) → blocked; unblocks it (member) → unblocked; not a word sent", async () => {
      h = await startHarness({ realApi })
      const chat = nextChat++
      const { key } = await linked(chat)
      await settled(h, h.standIn.chatMember(chat, "kicked"))
      expect(await seenByUser(key, chat)).toMatchObject({ is_active: true, blocked: true })
      await settled(h, h.standIn.chatMember(chat, "member"))
      expect(await seenByUser(key, chat)).toMatchObject({ is_active: true, blocked: false })
      expect(textsTo(h.standIn, chat)).toEqual([])
      expect(h.logs.find("update handled").map((l) => [l.chat_id, l.outcome])).toEqual([
        [chat, "chat_blocked"],
        [chat, "chat_unblocked"],
      ])
      // And the chat works as before.
      expect((await h.standIn.say(chat, "/status"))[0]).toContain("follower")
    })

    test("removed from a group → blocked; membership changes of unlinked chats are ignored quietly", async () => {
      h = await startHarness({ realApi })
      const group = -1_002_000_000_000 - nextChat++
      const { key } = await linked(group)
      h.standIn.chat(group, { type: "supergroup" })
      await settled(h, h.standIn.chatMember(group, "left"))
      expect(await seenByUser(key, group)).toMatchObject({ blocked: true })
      const stranger = nextChat++
      await settled(h, h.standIn.chatMember(stranger, "kicked"))
      expect(h.logs.find("update handled").map((l) => l.outcome)).toEqual([
        "chat_blocked",
        "chat_blocked_not_linked",
      ])
      expect(textsTo(h.standIn, group)).toEqual([])
      expect(h.logs.lines.filter((l) => /"level":"(warn|error)"/.test(l))).toEqual([])
    })

    test("a 403 on a send marks the chat blocked; /status still answers once the user writes again", async () => {
      h = await startHarness({ realApi })
      const chat = nextChat++
      const { key, user } = await linked(chat)
      h.standIn.fail("sendMessage", { status: 403 }) // "Forbidden: bot was blocked by the user"
      const update = h.standIn.message(chat, "/help")
      await settled(h, update)
      expect(await seenByUser(key, chat)).toMatchObject({ blocked: true })
      expect(h.logs.find("chat unreachable")).toEqual([
        expect.objectContaining({ chat_id: chat, method: "sendMessage", outcome: "chat_blocked" }),
      ])
      // The user unblocked the bot and writes: the answer comes, and the mark is gone.
      const [status] = await h.standIn.say(chat, "/status")
      expect(status).toContain(user.username)
      expect(await seenByUser(key, chat)).toMatchObject({ blocked: false })
    })

    test("the stand-in refuses sends to a chat that blocked the bot, and the bot records it", async () => {
      h = await startHarness({ realApi })
      const chat = nextChat++
      const { key } = await linked(chat)
      await settled(h, h.standIn.chatMember(chat, "kicked"))
      await h.nps.bot.api.sendMessage({ chat_id: chat, text: "hello?" }).catch(() => {})
      expect(h.standIn.sent(chat).map((c) => c.status)).toEqual([403])
      await settled(h, h.standIn.chatMember(chat, "member"))
      await h.nps.bot.api.sendMessage({ chat_id: chat, text: "hello again" })
      expect(h.standIn.sent(chat).map((c) => c.status)).toEqual([403, 200])
      expect(await seenByUser(key, chat)).toMatchObject({ blocked: false })
    })

    test("a group that became a supergroup keeps its link under the new id, silently", async () => {
      h = await startHarness({ realApi })
      const group = -(4_000_000_000 + nextChat++)
      const supergroup = -1_003_000_000_000 - nextChat++
      const { key, user } = await linked(group)
      const [, fromNew] = h.standIn.migrate(group, supergroup)
      await settled(h, fromNew) // the later of the two service messages
      expect(await rowOf(group)).toBeUndefined()
      expect(await rowOf(supergroup)).toMatchObject({ userId: user.id, isActive: true })
      expect(await seenByUser(key, supergroup)).toMatchObject({ blocked: false })
      expect(textsTo(h.standIn, group)).toEqual([])
      expect(textsTo(h.standIn, supergroup)).toEqual([])
      expect(h.logs.find("update handled").map((l) => l.outcome)).toEqual([
        "chat_migrated",
        "chat_migrated",
      ])
      // The old id now answers 400 migrate_to_chat_id; the new one works.
      const [status] = await h.standIn.say(supergroup, "/status")
      expect(status).toContain(user.username)
    })

    test("a send answered 400 migrate_to_chat_id moves the link and delivers the message in the supergroup", async () => {
      h = await startHarness({ realApi })
      const group = -(4_100_000_000 + nextChat++)
      const supergroup = -1_004_000_000_000 - nextChat++
      const { user } = await linked(group)
      h.standIn.chat(group, { type: "group" })
      h.standIn.fail("sendMessage", {
        status: 400,
        description: "Bad Request: group chat was upgraded to a supergroup chat",
        parameters: { migrate_to_chat_id: supergroup },
      })
      await settled(h, h.standIn.message(group, "/status"))
      expect(textsTo(h.standIn, supergroup)).toEqual([expect.stringContaining(user.username)])
      expect(await rowOf(supergroup)).toMatchObject({ userId: user.id })
      expect(await rowOf(group)).toBeUndefined()
      expect(h.logs.find("chat migrated")).toEqual([
        expect.objectContaining({
          chat_id: group,
          to_chat_id: supergroup,
          outcome: "chat_migrated",
        }),
      ])
    })
  })
}
