// The Eden client against the real API served over HTTP (seed tests 22–24), and every way a call
// can fail: each resolves to a tagged result, never a thrown error.
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { deactivateUser } from "../../api/src/modules/auth/service"
import { createApiClient } from "../src/api-client"
import { createBotMetrics } from "../src/metrics"
import {
  captureLogs,
  DB_TIMEOUT,
  drivers,
  openRealApi,
  type RealApi,
  seedProfiles,
  seedReadings,
  seedUser,
  startHarness,
} from "./harness"

interface Seen {
  method: string
  path: string
  authorization: string | null
  body: unknown
}

/** The real API over HTTP on 127.0.0.1, recording requests; `down` makes it answer 503. */
function serveApi(realApi: RealApi, port = 0) {
  const seen: Seen[] = []
  const state = { down: false }
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port,
    fetch: async (request) => {
      const text = await request.clone().text()
      seen.push({
        method: request.method,
        path: new URL(request.url).pathname,
        authorization: request.headers.get("authorization"),
        body: text ? JSON.parse(text) : undefined,
      })
      if (state.down)
        return Response.json(
          { error: "database_unavailable", message: "The database is unavailable" },
          { status: 503 },
        )
      return realApi.app.handle(request)
    },
  })
  return { seen, state, server, url: `http://127.0.0.1:${server.port}/api` }
}

/** A port with nothing listening on it. */
function closedPort() {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() })
  const port = server.port
  server.stop(true)
  return port as number
}

let nextChat = 50_000

for (const driver of drivers()) {
  describe(`API client [${driver}]`, () => {
    let realApi: RealApi
    let served: ReturnType<typeof serveApi>
    beforeAll(async () => {
      realApi = await openRealApi(driver)
      served = serveApi(realApi)
    }, DB_TIMEOUT)
    afterAll(async () => {
      served.server.stop(true)
      await realApi.close()
    })

    const client = (overrides: Partial<Parameters<typeof createApiClient>[0]> = {}) => {
      const logs = captureLogs([realApi.serviceKey])
      const api = createApiClient({
        baseUrl: served.url,
        serviceKey: realApi.serviceKey,
        logger: logs.logger,
        ...overrides,
      })
      return { api, logs }
    }

    test("link sends chat id, username and key to POST /api/telegram/link and returns the account (seed 22)", async () => {
      const { key } = await seedUser(realApi.db, { username: "linker" })
      const chatId = nextChat++
      const { api, logs } = client()
      const before = served.seen.length
      const result = await api.link({ chatId, telegramUsername: "linker_tg", apiKey: key })
      expect(result).toMatchObject({
        kind: "ok",
        account: { username: "linker", role: "user", telegram_chat_id: chatId },
      })
      expect(served.seen.slice(before)).toEqual([
        {
          method: "POST",
          path: "/api/telegram/link",
          authorization: `Bearer ${realApi.serviceKey}`,
          body: { telegram_chat_id: chatId, telegram_username: "linker_tg", api_key: key },
        },
      ])
      expect(logs.text()).not.toContain(key)
    })

    test("link with a rejected key is invalid_key; an inactive user is inactive_user (seed 23)", async () => {
      const { api } = client()
      expect(
        await api.link({
          chatId: nextChat++,
          telegramUsername: null,
          apiKey: `nps_${"z".repeat(43)}`,
        }),
      ).toEqual({
        kind: "invalid_key",
      })
      const { key } = await seedUser(realApi.db, { username: "gone" })
      await deactivateUser(realApi.db, "gone")
      expect(await api.link({ chatId: nextChat++, telegramUsername: null, apiKey: key })).toEqual({
        kind: "inactive_user",
      })
    })

    test("status parses a linked chat's account and counts, and an unlinked chat (seed 24)", async () => {
      const { api } = client()
      const { key, user } = await seedUser(realApi.db, { username: "counter" })
      await seedProfiles(realApi.db, user.id, [{ name: "P", birthday: "2000-02-29" }])
      await seedReadings(realApi.db, user.id, 4)
      const chatId = -1_001_999_000_000 - nextChat++
      await api.link({ chatId, telegramUsername: null, apiKey: key })
      expect(await api.status(chatId)).toEqual({
        kind: "ok",
        status: {
          linked: true,
          username: "counter",
          role: "user",
          oracle_profile_count: 1,
          reading_count: 4,
        },
      })
      expect(await api.status(nextChat++)).toEqual({ kind: "not_linked" })
    })

    test("profiles keep birthdays as YYYY-MM-DD strings; unlink, then not_linked everywhere", async () => {
      const { api } = client()
      const { key, user } = await seedUser(realApi.db, { username: "profiled" })
      await seedProfiles(realApi.db, user.id, [{ name: "Solo", birthday: "1985-07-04" }])
      const chatId = nextChat++
      await api.link({ chatId, telegramUsername: null, apiKey: key })
      const profiles = await api.profiles(chatId)
      expect(profiles).toMatchObject({
        kind: "ok",
        profiles: [{ name: "Solo", birthday: "1985-07-04" }],
      })
      expect(await api.unlink(chatId)).toEqual({ kind: "ok" })
      expect(await api.unlink(chatId)).toEqual({ kind: "not_linked" })
      expect(await api.profiles(chatId)).toEqual({ kind: "not_linked" })
    })

    test("a wrong or missing service key is an error an operator must fix, never the user's bad key", async () => {
      const wrongKey = `nps_${"w".repeat(43)}`
      const { key } = await seedUser(realApi.db, { username: "unserved" })
      for (const serviceKey of [wrongKey, undefined]) {
        const { api, logs } = client({ serviceKey })
        const unauthorized = { kind: "error", status: 401, code: "unauthorized" } as const
        expect(await api.status(1)).toEqual(unauthorized)
        expect(await api.link({ chatId: 1, telegramUsername: null, apiKey: key })).toEqual(
          unauthorized,
        )
        expect(await api.redeem({ chatId: 1, telegramUsername: null, token: "npslink_x" })).toEqual(
          unauthorized,
        )
        expect(await api.setBlocked(1, true)).toEqual(unauthorized)
        expect(logs.find("unexpected api response")).toHaveLength(4)
        expect(logs.text()).not.toContain(wrongKey)
        expect(logs.text()).not.toContain(key)
      }
    })

    test("the lease long poll is timed in nps_bot_api_request_duration_seconds like every call", async () => {
      const metrics = createBotMetrics()
      const { api } = client({ metrics })
      const leased = await api.lease({ max: 5, waitSeconds: 0 }, new AbortController().signal)
      expect(leased).toMatchObject({ kind: "ok", lease: { deliveries: [] } })
      expect(await metrics.registry.metrics()).toMatch(
        /nps_bot_api_request_duration_seconds_count\{endpoint="lease",status="200"\} 1/,
      )
    })

    test("503 from the API (database down) is unavailable", async () => {
      const { api } = client()
      served.state.down = true
      try {
        expect(await api.status(1)).toEqual({ kind: "unavailable" })
      } finally {
        served.state.down = false
      }
    })
  })
}

describe("API client failures", () => {
  test("an unreachable API is unavailable, not a thrown error", async () => {
    const logs = captureLogs()
    const api = createApiClient({
      baseUrl: `http://127.0.0.1:${closedPort()}/api`,
      serviceKey: undefined,
      logger: logs.logger,
    })
    expect(await api.status(1)).toEqual({ kind: "unavailable" })
    expect(
      await api.link({ chatId: 1, telegramUsername: null, apiKey: `nps_${"a".repeat(43)}` }),
    ).toEqual({
      kind: "unavailable",
    })
    expect(logs.find("api unreachable")).toHaveLength(2)
  })

  // Two ways a server can hang: the body never finishes, or nothing is ever answered.
  const hangingServers: [string, () => Response | Promise<Response>][] = [
    [
      "sends headers but never finishes the body",
      () =>
        new Response(
          new ReadableStream({
            start(controller) {
              controller.enqueue(new TextEncoder().encode("{"))
              const tick = setInterval(() => {
                try {
                  controller.enqueue(new TextEncoder().encode(" "))
                } catch {
                  clearInterval(tick) // the client went away
                }
              }, 50)
            },
          }),
          { headers: { "content-type": "application/json" } },
        ),
    ],
    ["accepts but never answers", () => new Promise<Response>(() => {})],
  ]
  for (const [behaviour, fetch] of hangingServers) {
    test(`a server that ${behaviour} is abandoned at the total deadline as unavailable`, async () => {
      const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch })
      try {
        const api = createApiClient({
          baseUrl: `http://127.0.0.1:${server.port}/api`,
          serviceKey: undefined,
          logger: captureLogs().logger,
          totalTimeoutMs: 300,
        })
        const started = performance.now()
        expect(await api.status(1)).toEqual({ kind: "unavailable" })
        // The deadline, not Bun's idle timeout (seconds later), ended the call.
        expect(performance.now() - started).toBeLessThan(2_000)
      } finally {
        server.stop(true)
      }
    })
  }
})

describe("API down, then up", () => {
  test(
    "the bot says 'temporarily unavailable' while the API is down and recovers without a restart",
    async () => {
      const realApi = await openRealApi()
      const port = closedPort()
      const h = await startHarness({
        apiFactory: (logger) =>
          createApiClient({
            baseUrl: `http://127.0.0.1:${port}/api`,
            serviceKey: realApi.serviceKey,
            logger,
          }),
      })
      try {
        expect(await h.standIn.say(77, "/status")).toEqual([
          expect.stringContaining("temporarily unavailable"),
        ])
        const served = serveApi(realApi, port)
        try {
          expect(await h.standIn.say(77, "/status")).toEqual([
            expect.stringContaining("Not linked"),
          ])
        } finally {
          served.server.stop(true)
        }
      } finally {
        await h.close()
        await realApi.close()
      }
    },
    DB_TIMEOUT,
  )
})
