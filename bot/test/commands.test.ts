// The bot as it runs: polling the Bot API stand-in, calling the real API app (in-process) on a
// real database. Covers the seed's nine handler tests and the contract's replies.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test"
import type { Logger } from "@nps/log"
import { type BotApiStandIn, startBotApiStandIn } from "@nps/testing/stand-in"
import type { NpsApi } from "../src/api-client"
import { COMMANDS } from "../src/commands/index"
import { KEY_FORMAT } from "../src/commands/link"
import { COMMAND_NAMES } from "../src/commands/names"
import {
  DB_TIMEOUT,
  drivers,
  type Harness,
  inProcessApi,
  openRealApi,
  type RealApi,
  seedProfiles,
  seedReadings,
  seedUser,
  settled,
  startHarness,
  textsTo,
} from "./harness"

let nextChat = 1_000
const privateChat = () => nextChat++
// Real supergroup ids are -100…, beyond 32 bits.
const groupChat = () => -1_001_234_567_000 - nextChat++
let nextUser = 0
const uniqueName = (base = "alice") => `${base}${nextUser++}`

/** The params of every call the bot made, as one string: nothing may contain a secret. */
const everythingSent = (standIn: BotApiStandIn) =>
  JSON.stringify(standIn.calls.filter((c) => c.method !== "getUpdates").map((c) => c.params))

for (const driver of drivers()) {
  describe(`bot commands [${driver}]`, () => {
    let realApi: RealApi
    let h: Harness
    let events: string[]

    beforeAll(async () => {
      realApi = await openRealApi(driver)
    }, DB_TIMEOUT)
    afterAll(async () => {
      await realApi.close()
    })
    afterEach(async () => {
      await h?.close()
    })

    /** A bot on the real API whose API calls and Telegram calls land in one ordered list. */
    const start = async (options: Parameters<typeof startHarness>[0] = {}) => {
      events = []
      const recording = (logger: Logger): NpsApi => {
        const inner = inProcessApi(realApi, logger)
        const record =
          <A, R>(name: string, call: (arg: A) => R) =>
          (arg: A) => {
            events.push(`api:${name}`)
            return call(arg)
          }
        return {
          link: record("link", inner.link),
          redeem: record("redeem", inner.redeem),
          status: record("status", inner.status),
          profiles: record("profile", inner.profiles),
          unlink: record("unlink", inner.unlink),
          setBlocked: (chatId: number, blocked: boolean) => {
            events.push("api:blocked")
            return inner.setBlocked(chatId, blocked)
          },
          migrate: (from: number, to: number) => {
            events.push("api:migration")
            return inner.migrate(from, to)
          },
          lease: inner.lease,
          report: inner.report,
          preferences: inner.preferences,
          updatePreferences: inner.updatePreferences,
          reportLanguageCode: inner.reportLanguageCode,
        }
      }
      h = await startHarness({ apiFactory: recording, ...options })
      h.standIn.onCall((call) => {
        if (call.method !== "getUpdates") events.push(`tg:${call.method}`)
      })
      return h
    }

    const linkedChat = async (username = uniqueName()) => {
      const seeded = await seedUser(realApi.db, { username })
      const chat = privateChat()
      const [reply] = await h.standIn.say(chat, `/link ${seeded.key}`)
      expect(reply).toContain("Account linked")
      return { chat, ...seeded }
    }

    test("/start sends the welcome (seed 9)", async () => {
      await start()
      const chat = privateChat()
      const [reply] = await h.standIn.say(chat, "/start")
      expect(reply).toContain("NPS Oracle Bot")
      expect(reply).toContain("/link")
      const call = h.standIn.sent(chat)[0]
      expect(call?.params.parse_mode).toBeUndefined()
      expect(call?.params.entities).toContainEqual({ type: "bold", offset: 11, length: 14 })
    })

    test("/link without a key explains the usage (seed 10)", async () => {
      await start()
      const chat = privateChat()
      const update = h.standIn.message(chat, "/link")
      await h.standIn.waitForCall("sendMessage", (c) => c.params.chat_id === chat)
      expect(textsTo(h.standIn, chat)[0]).toContain("Usage: /link")
      expect(events).not.toContain("api:link")
      const deletion = h.standIn.calls.find((c) => c.method === "deleteMessage")
      expect(deletion?.params).toEqual({ chat_id: chat, message_id: update.message?.message_id })
    })

    test("/link with a valid key deletes the message first, links, and never repeats the key (seed 11)", async () => {
      await start()
      const username = uniqueName("alice")
      const { key } = await seedUser(realApi.db, { username })
      expect(key).toMatch(KEY_FORMAT)
      const chat = privateChat()
      const update = h.standIn.message(chat, `/link ${key}`, { from: { username: "alice_tg" } })
      const reply = await h.standIn.waitForCall("sendMessage", (c) => c.params.chat_id === chat)
      expect(String(reply.params.text)).toContain("Account linked")
      expect(String(reply.params.text)).toContain(`Welcome, ${username}`)
      expect(events).toEqual(["tg:deleteMessage", "api:link", "tg:sendMessage"])
      const deletion = h.standIn.calls.find((c) => c.method === "deleteMessage")
      expect(deletion?.params).toEqual({ chat_id: chat, message_id: update.message?.message_id })
      expect(everythingSent(h.standIn)).not.toContain(key)
      expect(h.logs.text()).not.toContain(key)

      const [status] = await h.standIn.say(chat, "/status")
      expect(status).toContain(username)
    })

    test("/link with a malformed or unknown key says Invalid and still deletes it (seed 12)", async () => {
      await start()
      const chat = privateChat()
      const malformed = "nps_short!"
      const [first] = await h.standIn.say(chat, `/link ${malformed}`)
      expect(first).toContain("Invalid")
      expect(events).not.toContain("api:link")

      const unknown = `nps_${"Q".repeat(43)}`
      const [second] = await h.standIn.say(chat, `/link ${unknown}`)
      expect(second).toContain("Invalid")
      expect(events.filter((e) => e === "api:link")).toHaveLength(1)
      expect(
        h.standIn.calls.filter((c) => c.method === "deleteMessage" && c.status === 200),
      ).toHaveLength(2)
      expect(everythingSent(h.standIn)).not.toContain(unknown)
      expect(h.logs.text()).not.toContain(unknown)
    })

    test("/help and the command menu follow the one command list, in its order (seed 13)", async () => {
      await start()
      const [reply] = await h.standIn.say(privateChat(), "/help")
      // Each command's line, in the list's order: adding one to COMMANDS is all /help needs.
      const listed = [...String(reply).matchAll(/^\/(\w+) — /gm)].map((m) => m[1])
      expect(listed).toEqual([...COMMAND_NAMES])
      expect(Object.keys(COMMANDS)).toEqual([...COMMAND_NAMES])
      const menus = h.standIn.calls.filter((c) => c.method === "setMyCommands")
      expect(menus.length).toBeGreaterThan(0)
      for (const menu of menus)
        expect(menu.params.commands.map((c: { command: string }) => c.command)).toEqual([
          ...COMMAND_NAMES,
        ])
      // Every command answers: each name in the list is registered with GramIO.
      for (const name of COMMAND_NAMES)
        expect(await h.standIn.say(privateChat(), `/${name}`)).not.toEqual([])
    })

    test("/status for a linked chat shows username, role and counts (seed 14)", async () => {
      await start()
      const { chat, user } = await linkedChat()
      await seedProfiles(realApi.db, user.id, [
        { name: "One", birthday: "1990-01-02" },
        { name: "Two", birthday: "1991-03-04" },
      ])
      await seedReadings(realApi.db, user.id, 3)
      const [reply] = await h.standIn.say(chat, "/status")
      expect(reply).toContain(user.username)
      expect(reply).toContain("Role: user")
      expect(reply).toContain("Oracle profiles: 2")
      expect(reply).toContain("Readings: 3")
    })

    test("/status for an unlinked chat says Not linked (seed 15)", async () => {
      await start()
      const [reply] = await h.standIn.say(privateChat(), "/status")
      expect(reply).toContain("Not linked")
      expect(reply).toContain("/link")
    })

    test("/profile lists each profile's name and birthday (seed 16)", async () => {
      await start()
      const { chat, user } = await linkedChat()
      await seedProfiles(realApi.db, user.id, [
        { name: "Morning", birthday: "1990-05-17" },
        { name: "Evening", birthday: "2001-12-31" },
      ])
      const [reply] = await h.standIn.say(chat, "/profile")
      expect(reply).toContain("Morning — born 1990-05-17")
      expect(reply).toContain("Evening — born 2001-12-31")
    })

    test("/profile without profiles, and when not linked", async () => {
      await start()
      const { chat } = await linkedChat()
      expect(await h.standIn.say(chat, "/profile")).toEqual([
        expect.stringContaining("No Oracle profiles found"),
      ])
      expect(await h.standIn.say(privateChat(), "/profile")).toEqual([
        expect.stringContaining("Not linked"),
      ])
    })

    test("the 21st message in a minute is refused with one Slow down (seed 17)", async () => {
      await start()
      const chat = privateChat()
      let last = h.standIn.message(chat, "/help")
      for (let i = 1; i < 24; i++) last = h.standIn.message(chat, "/help")
      await settled(h, last)
      const replies = textsTo(h.standIn, chat)
      expect(replies.filter((r) => r.includes("/unlink"))).toHaveLength(20)
      expect(replies.filter((r) => /slow down/i.test(r))).toHaveLength(1)
      expect(replies).toHaveLength(21)
      // Another chat is unaffected.
      expect(await h.standIn.say(privateChat(), "/help")).toHaveLength(1)
    })

    test("/link in a group is refused, its message deleted, and nothing linked", async () => {
      await start()
      const chat = groupChat()
      h.standIn.chat(chat, { type: "supergroup", botIsAdmin: true })
      const { key } = await seedUser(realApi.db, { username: uniqueName() })
      const [reply] = await h.standIn.say(chat, `/link ${key}`)
      expect(reply).toContain("private chat")
      expect(reply).toContain("revoke") // a key posted to a group reached everyone's device
      expect(events).not.toContain("api:link")
      expect(h.standIn.calls.find((c) => c.method === "deleteMessage")?.status).toBe(200)
      expect(await h.standIn.say(chat, "/status")).toEqual([expect.stringContaining("Not linked")])
      expect(everythingSent(h.standIn)).not.toContain(key)
    })

    test("/link in a group where the bot cannot delete warns to revoke the key", async () => {
      await start()
      const chat = groupChat()
      h.standIn.chat(chat, { type: "group", botIsAdmin: false })
      const [reply] = await h.standIn.say(chat, `/link nps_${"x".repeat(43)}`)
      expect(reply).toContain("private chat")
      expect(reply).toContain("could not delete")
      expect(reply).toContain("revoke")
      expect(events).not.toContain("api:link")
    })

    test("when the key message cannot be deleted, the user is told to revoke it and a valid key still links", async () => {
      await start()
      const chat = privateChat()
      h.standIn.fail("deleteMessage", {
        status: 400,
        description: "Bad Request: message can't be deleted",
      })
      const username = uniqueName()
      const { key } = await seedUser(realApi.db, { username })
      const [reply] = await h.standIn.say(chat, `/link ${key}`)
      expect(reply).toContain("revoke")
      expect(reply).toContain("Account linked")
      expect(reply).toContain(`Welcome, ${username}`)
      expect(everythingSent(h.standIn)).not.toContain(key)
      expect(h.logs.text()).not.toContain(key)
      expect(h.logs.find("could not delete the /link message")).toHaveLength(1)
    })

    test("'message to delete not found' counts as deleted", async () => {
      await start()
      const chat = privateChat()
      h.standIn.fail("deleteMessage", {
        status: 400,
        description: "Bad Request: message to delete not found",
      })
      const { key } = await seedUser(realApi.db, { username: uniqueName() })
      const [reply] = await h.standIn.say(chat, `/link ${key}`)
      expect(reply).toContain("Account linked")
      expect(reply).not.toContain("revoke")
      expect(h.logs.find("could not delete the /link message")).toHaveLength(0)
      expect(h.logs.lines.filter((l) => l.includes('"level":"error"'))).toEqual([])
    })

    test("/unlink unlinks a linked chat; afterwards it is Not linked", async () => {
      await start()
      const { chat } = await linkedChat()
      expect(await h.standIn.say(chat, "/unlink")).toEqual([expect.stringContaining("unlinked")])
      expect(await h.standIn.say(chat, "/status")).toEqual([expect.stringContaining("Not linked")])
      expect(await h.standIn.say(chat, "/unlink")).toEqual([expect.stringContaining("Not linked")])
    })

    test("unknown commands and plain text get a pointer to /help", async () => {
      await start()
      const chat = privateChat()
      expect(await h.standIn.say(chat, "/frobnicate now")).toEqual([
        expect.stringContaining("/help"),
      ])
      expect(await h.standIn.say(chat, "hello there")).toEqual([expect.stringContaining("/help")])
      expect(await h.standIn.say(chat, `/help@${h.standIn.botInfo.username}`)).toEqual([
        expect.stringContaining("/status"),
      ])
    })

    test("in a group the bot ignores chatter and other bots' commands", async () => {
      await start()
      const chat = groupChat()
      h.standIn.message(chat, "just chatting")
      h.standIn.message(chat, "/start@SomeOtherBot")
      const [reply] = await h.standIn.say(chat, "/help")
      expect(reply).toContain("/status")
      expect(textsTo(h.standIn, chat)).toHaveLength(1)
    })

    test("names full of Markdown characters and emoji go out intact, as entities, never parse_mode", async () => {
      await start()
      const username = uniqueName("we_ird*[name](x)~`>#+-=|{}.!🦄")
      const { chat, user } = await linkedChat(username)
      const names = [
        "Zoë 🌙 *star* _under_",
        "[link](http://x) ~strike~ `code` > # + - = | { } . !",
        "👨‍👩‍👧‍👦 family",
      ]
      await seedProfiles(
        realApi.db,
        user.id,
        names.map((name) => ({ name, birthday: "1999-09-09" })),
      )
      const [status] = await h.standIn.say(chat, "/status")
      const [profiles] = await h.standIn.say(chat, "/profile")
      expect(status).toContain(username)
      for (const name of names) expect(profiles).toContain(name)
      for (const call of h.standIn.sent(chat)) {
        expect(call.status).toBe(200) // the stand-in rejects out-of-range entities and any parse_mode
        expect(call.params.parse_mode).toBeUndefined()
      }
      // Bold covers exactly the username, counted in UTF-16 code units as Telegram does.
      const statusCall = h.standIn.sent(chat).at(-2)
      const text = String(statusCall?.params.text)
      const entities: { type: string; offset: number; length: number }[] =
        statusCall?.params.entities ?? []
      const bold = entities.filter((e) => e.type === "bold")
      expect(bold.map((e) => text.slice(e.offset, e.offset + e.length))).toContain(username)
    })

    test("a chat's updates run in order: /link then /status in one batch sees the link", async () => {
      const standIn = await startBotApiStandIn()
      const username = uniqueName()
      const { key } = await seedUser(realApi.db, { username })
      const chat = privateChat()
      // Queued before the bot starts, so its first getUpdates returns all four in one batch.
      for (const text of [`/link ${key}`, "/status", "/unlink", "/status"])
        standIn.message(chat, text)
      await start({ standIn })
      const replies = await standIn.replies(chat, 4)
      expect(replies[0]).toContain("Account linked")
      expect(replies[1]).toContain(username)
      expect(replies[2]).toContain("unlinked")
      expect(replies[3]).toContain("Not linked")
      expect(standIn.calls.find((c) => c.method === "getUpdates")?.response).toMatchObject({
        result: { length: 4 },
      })
      await h.close()
      await standIn.close()
    })
  })
}
