// Issue 16: 25 messages from one chat with Redis gone mid-burst were all answered (the fallback
// started a fresh window). The replica's own window counts every message, so one replica allows
// TELEGRAM_RATE_LIMIT in all across the switch, both ways.
import { afterEach, expect, test } from "bun:test"
import { createLogger } from "@nps/log"
import { openTestRedis, rawRedis, TEST_REDIS_URL, testPrefix } from "@nps/testing/redis"
import { startRelay } from "@nps/testing/relay"
import { createSharedChatLimiter } from "../src/inbound/shared-rate-limit"

const cleanup: (() => unknown)[] = []
afterEach(() => {
  for (const fn of cleanup.splice(0).reverse()) fn()
})

if (TEST_REDIS_URL)
  test("one replica, limit 20: Redis gone after 10 → 10 more, then Slow down once; Redis back empty → still limited", async () => {
    const target = new URL(TEST_REDIS_URL as string)
    const relay = startRelay({ hostname: target.hostname, port: Number(target.port || 6379) })
    cleanup.push(() => relay.close())
    const prefix = testPrefix()
    const redis = openTestRedis(createLogger({ service: "bot", write: () => {} }), {
      url: `redis://127.0.0.1:${relay.port}`,
      prefix,
    })
    cleanup.push(() => redis.close())
    const limiter = createSharedChatLimiter({ redis, botId: 1, limit: 20 })
    const burst = async (n: number) => {
      const verdicts: string[] = []
      for (let i = 0; i < n; i++) verdicts.push(await limiter.hit(42))
      return verdicts
    }
    expect(await burst(10)).toEqual(Array(10).fill("allowed"))
    relay.close()
    expect(await burst(15)).toEqual([
      ...Array(10).fill("allowed"),
      "limited",
      ...Array(4).fill("silenced"),
    ])
    // Redis restarted with nothing persisted: its window is empty, the replica's is not.
    const raw = rawRedis()
    const keys = (await raw.send("KEYS", [`${prefix}*`])) as string[]
    if (keys.length) await raw.send("DEL", keys)
    raw.close()
    relay.reopen()
    expect(await burst(3)).toEqual(Array(3).fill("silenced"))
    expect(redis.available).toBe(true)
  })
