// The Redis layer against a real server, and against one that refuses, hangs or goes away
// (a TCP relay the test closes, freezes and reopens).
import { afterEach, describe, expect, test } from "bun:test"
import { createLogger } from "@nps/log"
import { startRelay } from "@nps/testing/relay"
import {
  createSharedRedis,
  defineScript,
  RedisUnavailableError,
  type SharedRedis,
  sharedOrLocal,
} from "../src"
import { closedPort, openTestRedis, TEST_REDIS_URL, testPrefix } from "./helpers"

// Every test key expires: the server is shared.
const INCR = defineScript(`
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], 60000)
return n
`)

function captured() {
  const lines: Record<string, unknown>[] = []
  const logger = createLogger({
    service: "test",
    level: "debug",
    write: (line) => lines.push(JSON.parse(line)),
  })
  return { logger, lines, msgs: () => lines.map((line) => `${line.level} ${line.msg}`) }
}

const opened: SharedRedis[] = []
const relays: ReturnType<typeof startRelay>[] = []
afterEach(() => {
  for (const redis of opened.splice(0)) redis.close()
  for (const relay of relays.splice(0)) relay.close()
})

test("a closed port: every call fails at once as unavailable, one error line for the outage", async () => {
  const log = captured()
  const redis = createSharedRedis({
    url: `redis://127.0.0.1:${closedPort()}`,
    logger: log.logger,
    fallback: "using memory",
    retryAfterMs: 0,
  })
  opened.push(redis)
  for (let i = 0; i < 3; i++)
    await expect(redis.run(INCR, ["k"], [])).rejects.toBeInstanceOf(RedisUnavailableError)
  expect(
    await sharedOrLocal(
      () => redis.run(INCR, ["k"], []),
      () => "local",
    ),
  ).toBe("local")
  expect(redis.available).toBe(false)
  expect(log.msgs().filter((m) => m.startsWith("error"))).toEqual([
    "error Redis unavailable: using memory",
  ])
})

if (TEST_REDIS_URL) {
  const url = new URL(TEST_REDIS_URL)
  const target = { hostname: url.hostname, port: Number(url.port || 6379) }

  describe("against a real Redis", () => {
    test("runs scripts atomically under the prefix; concurrent increments all count", async () => {
      const prefix = testPrefix()
      const redis = openTestRedis(captured().logger, { prefix })
      opened.push(redis)
      const key = redis.key("counter", 1)
      expect(key).toBe(`${prefix}counter:1`)
      const results = await Promise.all(
        Array.from({ length: 50 }, () => redis.run(INCR, [key], [])),
      )
      expect(results.map(Number).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 50 }, (_, i) => i + 1),
      )
      expect(redis.available).toBe(true)
    })

    test("Redis going away and coming back: unavailable meanwhile, logged once each way", async () => {
      const relay = startRelay(target)
      relays.push(relay)
      const log = captured()
      const redis = openTestRedis(log.logger, {
        url: `redis://127.0.0.1:${relay.port}`,
        prefix: testPrefix(),
      })
      opened.push(redis)
      const key = redis.key("n")
      expect(Number(await redis.run(INCR, [key], []))).toBe(1)

      relay.close() // connections cut, new ones refused
      for (let i = 0; i < 3; i++)
        await expect(redis.run(INCR, [key], [])).rejects.toBeInstanceOf(RedisUnavailableError)

      relay.reopen()
      expect(Number(await redis.run(INCR, [key], []))).toBe(2)
      expect(log.msgs().filter((m) => !m.startsWith("debug"))).toEqual([
        "error Redis unavailable: falling back to memory",
        "info Redis available again: shared state is back in use",
      ])
    })

    test("a Redis that stops answering (connection open, nothing comes back) fails within the deadline, then recovers", async () => {
      const relay = startRelay(target)
      relays.push(relay)
      const redis = openTestRedis(captured().logger, {
        url: `redis://127.0.0.1:${relay.port}`,
        prefix: testPrefix(),
        timeoutMs: 300,
      })
      opened.push(redis)
      const key = redis.key("n")
      await redis.run(INCR, [key], [])
      relay.freeze()
      await expect(redis.run(INCR, [key], [])).rejects.toBeInstanceOf(RedisUnavailableError)
      relay.thaw()
      // A new connection: the hung one is dropped, whatever it still had in flight.
      expect(Number(await redis.run(INCR, [key], []))).toBeGreaterThanOrEqual(2)
    })
  })
}
