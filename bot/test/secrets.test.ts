// No log line ever carries the bot token or an API key. Checked twice: with the logger main.ts
// builds (which scrubs known secrets), and with a logger that scrubs nothing, so the bot's own
// care is tested too — errors are forced to carry the request URL, which contains the token.
import { afterEach, describe, expect, test } from "bun:test"
import type { Fields, Logger } from "@nps/log"
import { req } from "@nps/testing/api"
import { startBotApiStandIn } from "@nps/testing/stand-in"
import { createApiClient } from "../src/api-client"
import { createBot, type NpsBot } from "../src/bot"
import {
  captureLogs,
  DB_TIMEOUT,
  inProcessApi,
  openRealApi,
  seedUser,
  unreachableApi,
} from "./harness"

// Not shaped like a Telegram token, so only the bot's own hygiene can keep it out of a log.
const TOKEN = "local-test-token-Zq8xW3vB9nK2"
const KEY = `nps_${"S3cr3tK3y".repeat(4)}abcdefg`

/** A logger that writes exactly what it is given: no redaction at all. */
function rawLogger(): Logger & { lines: string[] } {
  const lines: string[] = []
  const make = (bound: Fields): Logger => {
    const emit = (level: string) => (msg: string, fields?: Fields) => {
      lines.push(JSON.stringify({ level, msg, ...bound, ...fields }))
    }
    return {
      debug: emit("debug"),
      info: emit("info"),
      warn: emit("warn"),
      error: emit("error"),
      child: (fields) => make({ ...bound, ...fields }),
    }
  }
  return Object.assign(make({}), { lines })
}

const closedRoot = () => {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() })
  const root = `http://127.0.0.1:${server.port}`
  server.stop(true)
  return root
}

let cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const step of cleanup.reverse()) await step()
  cleanup = []
})

const botWith = (
  logger: Logger,
  root: string,
  extra: Partial<Parameters<typeof createBot>[0]> = {},
): NpsBot => {
  const nps = createBot({
    config: { token: TOKEN, rateLimit: 20, telegramApiRoot: root, heartbeatFile: undefined },
    api: unreachableApi(),
    logger,
    ...extra,
  })
  cleanup.push(() => nps.stop())
  return nps
}

for (const mode of ["scrubbing logger (as main.ts)", "logger that scrubs nothing"] as const) {
  describe(`secrets never logged — ${mode}`, () => {
    const logger = () => {
      if (mode === "logger that scrubs nothing") return rawLogger()
      const logs = captureLogs([TOKEN, KEY])
      return Object.assign(logs.logger, { lines: logs.lines })
    }

    test("Telegram unreachable at start: getMe failures do not log the token", async () => {
      const log = logger()
      let attempts = 0
      const nps = botWith(log, closedRoot(), {
        sleep: async () => {
          if (++attempts === 3) void nps.stop()
        },
      })
      await nps.start()
      expect(log.lines.filter((l) => l.includes("unreachable at start"))).toHaveLength(3)
      for (const line of log.lines) expect(line).not.toContain(TOKEN)
    })

    test("getUpdates errors that echo their URL (and Bun's `path`) do not log the token", async () => {
      const log = logger()
      const standIn = await startBotApiStandIn({ token: TOKEN })
      cleanup.push(() => standIn.close())
      let failures = 0
      const nps = botWith(log, standIn.url, {
        sleep: async () => {},
        polling: {
          fetch: (async (input: string | URL | Request, init?: RequestInit) => {
            if (failures++ < 3) {
              const url = String(input)
              throw Object.assign(new TypeError(`fetch failed for ${url}`), {
                code: "ConnectionRefused",
                path: url,
              })
            }
            return fetch(input, init)
          }) as typeof fetch,
        },
      })
      await nps.start()
      const update = standIn.message(1, "/help")
      await standIn.waitForRequest("getUpdates", (p) => Number(p.offset) > update.update_id)
      await nps.idle()
      expect(standIn.sent(1)).toHaveLength(1)
      expect(log.lines.filter((l) => l.includes("getUpdates"))).not.toHaveLength(0)
      for (const line of log.lines) expect(line).not.toContain(TOKEN)
    })

    test("replies failing because Telegram went away do not log the token", async () => {
      const log = logger()
      const standIn = await startBotApiStandIn({ token: TOKEN })
      const nps = botWith(log, standIn.url, { info: standIn.botInfo, sleep: async () => {} })
      const update = standIn.message(2, "/status")
      await standIn.close()
      await nps.handle(update) // sendMessage and the fallback reply both fail to connect
      expect(log.lines.some((l) => l.includes("could not tell the user"))).toBe(true)
      for (const line of log.lines) expect(line).not.toContain(TOKEN)
    })

    test(
      "/link never logs the API key, whatever happens to it",
      async () => {
        const log = logger()
        const realApi = await openRealApi()
        cleanup.push(() => realApi.close())
        const { key } = await seedUser(realApi.db, { username: "secretive" })
        const standIn = await startBotApiStandIn({ token: TOKEN })
        cleanup.push(() => standIn.close())
        const api = inProcessApi(realApi, log)
        const nps = botWith(log, standIn.url, { api })
        await nps.start()
        standIn.chat(-100123, { type: "supergroup", botIsAdmin: false })
        await standIn.say(3, `/link ${key}`) // linked
        standIn.fail("deleteMessage", {
          status: 400,
          description: "Bad Request: message can't be deleted",
        })
        await standIn.say(3, `/link ${key}`) // linked, deletion failed
        await standIn.say(-100123, `/link ${key}`) // refused in a group
        await standIn.say(4, `/link ${KEY}`) // unknown key
        await standIn.say(4, `/link ${KEY}!`) // malformed
        const down = createApiClient({
          baseUrl: `${closedRoot()}/api`,
          serviceKey: undefined,
          logger: log,
        })
        const offline = botWith(log, standIn.url, { api: down, info: standIn.botInfo })
        await offline.handle(standIn.message(5, `/link ${key}`)) // API unreachable
        expect(log.lines.filter((l) => l.includes("/link message"))).not.toHaveLength(0)
        for (const line of log.lines) {
          expect(line).not.toContain(key)
          expect(line).not.toContain(KEY)
          expect(line).not.toContain(TOKEN)
        }
        const sent = JSON.stringify(standIn.calls.map((c) => c.params))
        expect(sent).not.toContain(key)
        expect(sent).not.toContain(KEY)
      },
      DB_TIMEOUT,
    )

    test(
      "/start <token> never logs the link token, whatever happens to it",
      async () => {
        const log = logger()
        const realApi = await openRealApi()
        cleanup.push(() => realApi.close())
        const { key } = await seedUser(realApi.db, { username: "tapper" })
        const token = async () =>
          (await req(realApi.app, "POST", "/api/telegram/link-tokens", { token: key })).body
            .token as string
        const standIn = await startBotApiStandIn({ token: TOKEN })
        cleanup.push(() => standIn.close())
        const api = inProcessApi(realApi, log)
        const nps = botWith(log, standIn.url, { api })
        await nps.start()
        const used = await token()
        await standIn.say(6, `/start ${used}`) // linked
        await standIn.say(7, `/start ${used}`) // spent
        const inGroup = await token()
        await standIn.say(-100124, `/start ${inGroup}`) // refused in a group
        const unreached = await token()
        const down = createApiClient({
          baseUrl: `${closedRoot()}/api`,
          serviceKey: undefined,
          logger: log,
        })
        const offline = botWith(log, standIn.url, { api: down, info: standIn.botInfo })
        await offline.handle(standIn.message(8, `/start ${unreached}`)) // API unreachable
        await nps.idle()
        expect(log.lines.filter((l) => l.includes('"command":"start"'))).not.toHaveLength(0)
        for (const line of log.lines)
          for (const secret of [used, inGroup, unreached, "npslink_"])
            expect(line).not.toContain(secret)
      },
      DB_TIMEOUT,
    )
  })
}
