// Two bot replicas in webhook mode sharing one Redis: an update delivered to both is handled once,
// a replica that dies mid-update does not make its redelivery be dropped, and one chat gets
// exactly TELEGRAM_RATE_LIMIT messages a minute however they are spread. While Redis is
// unreachable each replica carries on alone (fail open, to the replica).
import { afterEach, describe, expect, test } from "bun:test"
import type { TelegramUpdate } from "@gramio/types"
import { closedPort, openTestRedis, rawRedis, TEST_REDIS_URL, testPrefix } from "@nps/testing/redis"
import { startRelay } from "@nps/testing/relay"
import { type BotApiStandIn, startBotApiStandIn } from "@nps/testing/stand-in"
import type { NpsApi, StatusResult } from "../src/api-client"
import { deferred, spawnBot, textsTo, unreachableApi } from "./harness"
import { type Replica, startReplica, WEBHOOK_SECRET } from "./replica"

const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
})

/** A bot token of its own, so keys under the product's fixed prefix cannot meet another run's. */
const freshToken = () =>
  `${100_000_000 + Math.floor(Math.random() * 800_000_000)}:AA${crypto.randomUUID().replaceAll("-", "")}`

const notLinked: StatusResult = { kind: "not_linked" }

/** An API whose /status calls wait until the test releases them. */
function heldApi() {
  const held: ((result: StatusResult) => void)[] = []
  const arrived = deferred()
  const api: NpsApi = {
    ...unreachableApi(),
    status: () =>
      new Promise<StatusResult>((release) => {
        held.push(release)
        arrived.resolve()
      }),
  }
  return { api, held, arrived: arrived.promise }
}

async function twoReplicas(
  options: { api?: NpsApi; redisUrl?: string; rateLimit?: number; standIn?: BotApiStandIn } = {},
) {
  const standIn = options.standIn ?? (await startBotApiStandIn({ token: freshToken() }))
  if (!options.standIn) cleanup.push(() => standIn.close())
  const prefix = testPrefix()
  const make = () =>
    startReplica({
      standIn,
      api: options.api ?? { ...unreachableApi(), status: async () => notLinked },
      rateLimit: options.rateLimit,
      redis: (logger) => openTestRedis(logger, { prefix, url: options.redisUrl }),
    })
  const a = await make()
  cleanup.push(() => a.stop())
  const b = await make()
  cleanup.push(() => b.stop())
  return { standIn, a, b }
}

const handled = (replica: Replica) => replica.logs.find("update handled").length

if (TEST_REDIS_URL) {
  const redisUrl = TEST_REDIS_URL
  describe("two bot replicas sharing Redis", () => {
    test("an update delivered to both replicas, one after the other, is handled once", async () => {
      const { standIn, a, b } = await twoReplicas()
      const update = standIn.draft(20, "/help")
      expect((await standIn.post(update, { url: a.url })).status).toBe(200)
      expect((await standIn.post(update, { url: b.url })).status).toBe(200)
      expect(textsTo(standIn, 20)).toHaveLength(1)
      expect([handled(a), handled(b)]).toEqual([1, 0])
    })

    test("a redelivery reaching the other replica while the first still handles it is told to retry (503), then answered 200 — handled once", async () => {
      const { api, held, arrived } = heldApi()
      const { standIn, a, b } = await twoReplicas({ api })
      const update = standIn.draft(21, "/status")
      const first = standIn.post(update, { url: a.url })
      await arrived
      const meanwhile = await standIn.post(update, { url: b.url })
      expect(meanwhile.status).toBe(503)
      held[0]?.(notLinked)
      expect((await first).status).toBe(200)
      expect((await standIn.post(update, { url: b.url })).status).toBe(200)
      expect(held).toHaveLength(1)
      expect(textsTo(standIn, 21)).toEqual([expect.stringContaining("Not linked")])
    })

    test("30 updates each sent to both replicas at once: every one handled exactly once; a 503 retried afterwards gets 200", async () => {
      const { standIn, a, b } = await twoReplicas({ rateLimit: 1000 })
      const updates = Array.from({ length: 30 }, (_, i) => standIn.draft(100 + (i % 10), "/help"))
      const firstRound = await Promise.all(
        updates.map((update) =>
          Promise.all([a.url, b.url].map((url) => standIn.post(update, { url }))),
        ),
      )
      // Whoever claimed an update answered 200 once it was handled; the other 200 (done) or 503
      // (still in progress then). Telegram retries a 503: by now it is done.
      for (const [i, answers] of firstRound.entries()) {
        const statuses = answers.map((r) => r.status)
        expect(statuses).toContain(200)
        for (const [j, status] of statuses.entries()) {
          if (status === 200) continue
          expect(status).toBe(503)
          const retry = await standIn.post(updates[i] as TelegramUpdate, { url: [a.url, b.url][j] })
          expect(retry.status).toBe(200)
        }
      }
      expect(standIn.sent()).toHaveLength(30)
      expect(handled(a) + handled(b)).toBe(30)
      for (let chat = 100; chat < 110; chat++) expect(textsTo(standIn, chat)).toHaveLength(3)
    })

    test("one chat gets exactly TELEGRAM_RATE_LIMIT messages a minute across both, and one Slow down", async () => {
      const { standIn, a, b } = await twoReplicas()
      const burst = Array.from({ length: 25 }, () => standIn.draft(30, "/help"))
      const answers = await Promise.all(
        burst.map((update, i) => standIn.post(update, { url: i % 2 ? b.url : a.url })),
      )
      expect(answers.map((r) => r.status)).toEqual(Array(25).fill(200))
      const texts = textsTo(standIn, 30)
      expect(texts.filter((t) => t.includes("/profile"))).toHaveLength(20)
      expect(texts.filter((t) => /slow down/i.test(t))).toHaveLength(1)
      expect(texts).toHaveLength(21)
      // Both replicas served the chat; another chat has a budget of its own.
      expect(handled(a)).toBeGreaterThan(0)
      expect(handled(b)).toBeGreaterThan(0)
      expect((await standIn.post(standIn.draft(31, "/help"), { url: b.url })).status).toBe(200)
      expect(textsTo(standIn, 31)).toHaveLength(1)
    })

    test("Redis going away mid-run: each replica limits alone meanwhile, and the shared window is back after", async () => {
      const target = new URL(redisUrl)
      const relay = startRelay({ hostname: target.hostname, port: Number(target.port || 6379) })
      cleanup.push(() => relay.close())
      const { standIn, a, b } = await twoReplicas({
        redisUrl: `redis://127.0.0.1:${relay.port}`,
        rateLimit: 3,
      })
      const say = async (replica: Replica) => {
        const since = standIn.calls.length
        expect((await standIn.post(standIn.draft(40, "/help"), { url: replica.url })).status).toBe(
          200,
        )
        return standIn.calls.slice(since).filter((c) => c.method === "sendMessage").length
      }
      // Shared: three allowed through either replica, the fourth told to slow down.
      expect([await say(a), await say(b), await say(a), await say(b)]).toEqual([1, 1, 1, 1])
      expect(textsTo(standIn, 40).at(-1)).toMatch(/slow down/i)

      relay.close()
      // B's own memory has not counted chat 40: it answers while Redis is away.
      expect(await say(b)).toBe(1)
      expect(textsTo(standIn, 40).at(-1)).toContain("/profile")
      expect(b.logs.text()).toContain("Redis unavailable")

      relay.reopen()
      // The shared window still holds three: over the limit again, and already told.
      expect(await say(a)).toBe(0)
      expect(await say(b)).toBe(0)
      expect(b.logs.text()).toContain("Redis available again")
    })

    test("the real process with REDIS_URL sends from the bot's budget in Redis, and leaves it when stopped", async () => {
      const standIn = await startBotApiStandIn({ token: freshToken() })
      cleanup.push(() => standIn.close())
      const port = closedPort()
      const bot = spawnBot({
        NPS_BOT_TOKEN: standIn.token,
        TELEGRAM_API_ROOT: standIn.url,
        TELEGRAM_BOT_API_URL: "http://127.0.0.1:9/api",
        BOT_MODE: "webhook",
        WEBHOOK_URL: `http://127.0.0.1:${port}/telegram/webhook`,
        WEBHOOK_SECRET,
        WEBHOOK_HOST: "127.0.0.1",
        WEBHOOK_PORT: String(port),
        REDIS_URL: redisUrl,
      })
      cleanup.push(() => bot.proc.kill("SIGKILL"))
      await bot.waitForLog((r) => r.msg === "webhook registered", 15_000)
      const raw = rawRedis()
      cleanup.push(() => raw.close())
      const keys = (name: string) => `nps:bot:${standIn.botInfo.id}:${name}`
      const update = standIn.draft(70, "/help")
      cleanup.push(() =>
        raw.del(
          keys("pacers"),
          keys("pace:all"),
          keys("pace:chat:70"),
          keys(`update:${update.update_id}`),
        ),
      )
      expect(
        (await standIn.post(update, { url: `http://127.0.0.1:${port}/telegram/webhook` })).status,
      ).toBe(200)
      expect(textsTo(standIn, 70)).toHaveLength(1)
      // The reply counts in the bot's windows (overall and the chat's) until a second after it.
      for (const window of ["pace:all", "pace:chat:70"])
        expect(await raw.send("ZCARD", [keys(window)])).toBe(1)
      expect(await raw.send("ZCARD", [keys("pacers")])).toBe(1)

      bot.proc.kill("SIGTERM")
      expect(await bot.proc.exited).toBe(0)
      // A replica that stopped is no longer counted among those sharing the budget.
      expect(await raw.send("ZCARD", [keys("pacers")])).toBe(0)
    }, 30_000)

    test("a replica killed mid-update: its claim lapses and Telegram's redelivery is handled by the other, once", async () => {
      const standIn = await startBotApiStandIn({ token: freshToken() })
      cleanup.push(() => standIn.close())
      // Replica A, a real process whose NPS API never answers: its update stays in flight.
      const apiCalled = deferred()
      const silentApi = Bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        fetch: () => {
          apiCalled.resolve()
          return new Promise<Response>(() => {})
        },
      })
      cleanup.push(() => silentApi.stop(true))
      const port = closedPort()
      const a = spawnBot({
        NPS_BOT_TOKEN: standIn.token,
        TELEGRAM_API_ROOT: standIn.url,
        TELEGRAM_BOT_API_URL: `http://127.0.0.1:${silentApi.port}/api`,
        BOT_MODE: "webhook",
        WEBHOOK_URL: `http://127.0.0.1:${port}/telegram/webhook`,
        WEBHOOK_SECRET,
        WEBHOOK_HOST: "127.0.0.1",
        WEBHOOK_PORT: String(port),
        REDIS_URL: redisUrl,
      })
      cleanup.push(() => a.proc.kill("SIGKILL"))
      await a.waitForLog((r) => r.msg === "webhook registered", 15_000)
      // Replica B, in-process, on the same Redis keys as the real process (the product's prefix).
      const b = await startReplica({
        standIn,
        api: { ...unreachableApi(), status: async () => notLinked },
        redis: (logger) => openTestRedis(logger, { prefix: "nps:" }),
      })
      cleanup.push(() => b.stop())
      const raw = rawRedis()
      cleanup.push(() => raw.close())

      const update = standIn.draft(50, "/status")
      const key = `nps:bot:${standIn.botInfo.id}:update:${update.update_id}`
      cleanup.push(() => raw.del(key))
      const lost = standIn.post(update, { url: `http://127.0.0.1:${port}/telegram/webhook` })
      await apiCalled.promise
      a.proc.kill("SIGKILL")
      await expect(lost).rejects.toThrow() // the connection died with the process
      expect(await raw.get(key)).toStartWith("processing:")

      // Telegram redelivers to B while A's claim is still alive: not dropped, retried later.
      expect((await standIn.post(update, { url: b.url })).status).toBe(503)
      // A's claim runs out (30 s unrenewed; the test takes it away rather than wait).
      await raw.del(key)
      expect((await standIn.post(update, { url: b.url })).status).toBe(200)
      expect(textsTo(standIn, 50)).toEqual([expect.stringContaining("Not linked")])
      expect(await raw.get(key)).toBe("done")
      expect(await raw.pttl(key)).toBeGreaterThan(0)
    }, 30_000)
  })
}

describe("two bot replicas, Redis unreachable", () => {
  test("each replica still de-duplicates its own deliveries and limits alone (at most replicas × the limit)", async () => {
    const { standIn, a, b } = await twoReplicas({
      redisUrl: `redis://127.0.0.1:${closedPort()}`,
      rateLimit: 3,
    })
    const update = standIn.draft(60, "/help")
    for (let i = 0; i < 2; i++)
      expect((await standIn.post(update, { url: a.url })).status).toBe(200)
    expect(textsTo(standIn, 60)).toHaveLength(1)
    // Documented: during the outage another replica cannot know, and handles it again.
    expect((await standIn.post(update, { url: b.url })).status).toBe(200)
    expect(textsTo(standIn, 60)).toHaveLength(2)

    for (const replica of [a, b])
      for (let i = 0; i < 4; i++)
        expect((await standIn.post(standIn.draft(61, "/help"), { url: replica.url })).status).toBe(
          200,
        )
    const texts = textsTo(standIn, 61)
    expect(texts.filter((t) => t.includes("/profile"))).toHaveLength(6)
    expect(texts.filter((t) => /slow down/i.test(t))).toHaveLength(2)
    for (const replica of [a, b])
      expect(replica.logs.find("Redis unavailable: falling back to memory")).toHaveLength(1)
  })
})
