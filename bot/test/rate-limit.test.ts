import { describe, expect, test } from "bun:test"
import { createRateLimiter } from "../src/inbound/rate-limit"

const fakeClock = (start = 1_000_000) => {
  let now = start
  return { now: () => now, advance: (ms: number) => (now += ms) }
}

describe("rate limiter (seed tests 18–21)", () => {
  test("allows messages under the limit", () => {
    const limiter = createRateLimiter({ limit: 20, now: fakeClock().now })
    for (let i = 0; i < 20; i++) expect(limiter.hit(1)).toBe("allowed")
  })

  test("blocks messages over the limit, telling the chat once per window", () => {
    const limiter = createRateLimiter({ limit: 20, now: fakeClock().now })
    for (let i = 0; i < 20; i++) limiter.hit(1)
    expect(limiter.hit(1)).toBe("limited")
    expect(limiter.hit(1)).toBe("silenced")
    expect(limiter.hit(1)).toBe("silenced")
  })

  test("allows messages again once the window has passed", () => {
    const clock = fakeClock()
    const limiter = createRateLimiter({ limit: 20, now: clock.now })
    for (let i = 0; i < 20; i++) limiter.hit(1)
    expect(limiter.hit(1)).toBe("limited")
    clock.advance(59_999)
    expect(limiter.hit(1)).toBe("silenced")
    clock.advance(1)
    expect(limiter.hit(1)).toBe("allowed")
  })

  test("slides: only messages of the last 60 s count", () => {
    const clock = fakeClock()
    const limiter = createRateLimiter({ limit: 3, now: clock.now })
    limiter.hit(1) // t=0
    clock.advance(30_000)
    limiter.hit(1) // t=30 s
    limiter.hit(1)
    expect(limiter.hit(1)).toBe("limited")
    clock.advance(30_000) // the first one leaves the window
    expect(limiter.hit(1)).toBe("allowed")
    expect(limiter.hit(1)).toBe("limited")
    // Once allowed again, a new over-limit episode is announced again.
  })

  test("keeps separate budgets for different chat ids", () => {
    const limiter = createRateLimiter({ limit: 20, now: fakeClock().now })
    for (let i = 0; i < 20; i++) limiter.hit(-1001234567890)
    expect(limiter.hit(-1001234567890)).toBe("limited")
    expect(limiter.hit(42)).toBe("allowed")
  })
})

describe("rate limiter memory (seed scenario 4)", () => {
  test("never tracks more than maxKeys chats, evicting the least recently active", () => {
    const limiter = createRateLimiter({ limit: 20, now: fakeClock().now, maxKeys: 10_000 })
    for (let chat = 0; chat < 50_000; chat++) limiter.hit(chat)
    expect(limiter.size).toBe(10_000)
    // A chat active just now survived the eviction and keeps its count.
    for (let i = 0; i < 19; i++) limiter.hit(49_999)
    expect(limiter.hit(49_999)).toBe("limited")
  })

  test("forgets idle chats once their window has expired", () => {
    const clock = fakeClock()
    const limiter = createRateLimiter({ limit: 20, now: clock.now, cleanupEvery: 100 })
    for (let chat = 0; chat < 5_000; chat++) limiter.hit(chat)
    expect(limiter.size).toBe(5_000)
    clock.advance(60_001)
    // The periodic sweep runs on the 100th hit after this point at the latest.
    for (let i = 0; i < 100; i++) limiter.hit("active")
    expect(limiter.size).toBe(1)
  })

  test("a sweep keeps chats that are still inside their window", () => {
    const clock = fakeClock()
    const limiter = createRateLimiter({ limit: 5, now: clock.now })
    limiter.hit("old")
    clock.advance(50_000)
    limiter.hit("recent")
    clock.advance(10_001)
    limiter.sweep()
    expect(limiter.size).toBe(1)
    for (let i = 0; i < 4; i++) expect(limiter.hit("recent")).toBe("allowed")
    expect(limiter.hit("recent")).toBe("limited")
  })
})
