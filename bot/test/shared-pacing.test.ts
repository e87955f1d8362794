// The outbound budget shared by replicas through Redis, on a fake clock: two pacers drawing from
// one budget as two replicas do, a 429 seen by one holding the other, a dead replica's sends in
// flight freed after a bound, and — Redis gone — each replica alone at its share of the limits.
import { afterEach, describe, expect, test } from "bun:test"
import { closedPort, TEST_REDIS_URL } from "@nps/testing/redis"
import { startRelay } from "@nps/testing/relay"
import { createPacer, type Priority, TELEGRAM_LIMITS } from "../src/outbound/pacer"
import { shareOf } from "../src/outbound/shared-pacing"
import { closeStores, openShared, watched } from "./budget-stores"
import { type FakeClock, fakeClock } from "./fake-clock"
import { captureLogs } from "./harness"

afterEach(closeStores)

test("a replica's share of each limit: together they never pass it, alone each keeps its part", () => {
  const { overall, privateChat, groupChat } = TELEGRAM_LIMITS
  const deliveries = { key: "deliveries", perSecond: 28, burst: 4 }
  expect(shareOf({ key: "all", ...overall }, 2)).toEqual({ key: "all", limit: 15, windowMs: 1_000 })
  expect(shareOf({ key: "g", ...groupChat }, 2)).toEqual({ key: "g", limit: 10, windowMs: 60_000 })
  expect(shareOf({ key: "g", ...groupChat }, 3)).toEqual({ key: "g", limit: 6, windowMs: 60_000 })
  // One a second to a private chat: one every two seconds each, the same rate together.
  expect(shareOf({ key: "p", ...privateChat }, 2)).toEqual({ key: "p", limit: 1, windowMs: 2_000 })
  expect(shareOf(deliveries, 2)).toEqual({ key: "deliveries", perSecond: 14, burst: 2 })
  expect(shareOf(deliveries, 1)).toEqual(deliveries)
})

/** Replicas of one bot on one fake clock, each with its own pacer over the shared budget. */
function replicas(count: number, options: { url?: string } = {}) {
  const shared = crypto.randomUUID()
  const watches: ReturnType<typeof watched>[] = []
  const clock: FakeClock = fakeClock({
    busy: () => {
      const pending = watches.map((w) => w.busy()).filter(Boolean)
      return pending.length ? Promise.all(pending) : undefined
    },
  })
  const granted: string[] = []
  const members = Array.from({ length: count }, (_, n) => {
    const logs = captureLogs()
    const store = openShared(clock.now, { shared, logger: logs.logger, url: options.url })
    const watch = watched(store)
    watches.push(watch)
    const pacer = createPacer({ clock, store: watch.store })
    const ask = (name: string, chatId: number, priority: Priority = "reply", hold = false) =>
      pacer.acquire(chatId, priority).then((permit) => {
        granted.push(`${n}:${name}`)
        if (!hold) permit.done()
        return permit
      })
    return { store, pacer, ask, logs }
  })
  return { clock, granted, members }
}

if (TEST_REDIS_URL) {
  const redisUrl = TEST_REDIS_URL
  describe("replicas sharing the budget through Redis", () => {
    test("30 a second is the bot's, not each replica's: the 31st of both waits for the window", async () => {
      const { clock, granted, members } = replicas(2)
      const [a, b] = members
      for (let i = 0; i < 20; i++) {
        void a?.ask(`m${i}`, 100 + i)
        void b?.ask(`m${i}`, 200 + i)
      }
      await clock.advance(0)
      expect(granted).toHaveLength(30)
      await clock.advance(999)
      expect(granted).toHaveLength(30)
      await clock.advance(1)
      expect(granted).toHaveLength(40)
    })

    test("one chat's limit is the chat's: a message from the other replica waits its second", async () => {
      const { clock, granted, members } = replicas(2)
      const [a, b] = members
      await a?.ask("first", 7)
      void b?.ask("second", 7)
      await clock.advance(999)
      expect(granted).toEqual(["0:first"])
      await clock.advance(1)
      expect(granted).toEqual(["0:first", "1:second"])
    })

    test("deliveries keep one pace, 28 a second, however many replicas deliver", async () => {
      const { clock, granted, members } = replicas(2)
      for (const [n, member] of members.entries())
        for (let i = 0; i < 100; i++) void member.ask(`d${i}`, 10_000 * (n + 1) + i, "delivery")
      await clock.advance(3_000)
      expect(granted.length).toBeGreaterThanOrEqual(28 * 3)
      expect(granted.length).toBeLessThanOrEqual(28 * 3 + 4)
      // Both replicas delivered their part of it.
      expect(granted.filter((g) => g.startsWith("0:")).length).toBeGreaterThan(0)
      expect(granted.filter((g) => g.startsWith("1:")).length).toBeGreaterThan(0)
    })

    test("a 429 one replica heard holds the other's sends for retry_after", async () => {
      const { clock, granted, members } = replicas(2)
      const [a, b] = members
      a?.pacer.pause(2_000)
      await clock.advance(0)
      void b?.ask("reply", 1)
      void b?.ask("delivery", 2, "delivery")
      await clock.advance(1_998)
      expect(granted).toEqual([])
      await clock.advance(2)
      expect(granted).toEqual(["1:reply", "1:delivery"])
    })

    test("sends a dead replica left in flight stop counting once its send deadline and window have passed", async () => {
      const { clock, granted, members } = replicas(2)
      const [dead, alive] = members
      // The first replica takes the whole second's budget and dies before any send finishes.
      for (let i = 0; i < 30; i++) void dead?.ask(`m${i}`, 300 + i, "reply", true)
      await clock.advance(0)
      expect(granted).toHaveLength(30)
      void alive?.ask("after", 400)
      await clock.advance(15_999)
      expect(granted).not.toContain("1:after")
      await clock.advance(1_000)
      expect(granted).toContain("1:after")
    })
  })

  describe("Redis unavailable", () => {
    const target = new URL(redisUrl)
    const relays: ReturnType<typeof startRelay>[] = []
    afterEach(() => {
      for (const relay of relays.splice(0)) relay.close()
    })

    test("each replica paces alone at half of every limit meanwhile, and the shared budget is back after", async () => {
      const relay = startRelay({ hostname: target.hostname, port: Number(target.port || 6379) })
      relays.push(relay)
      const { clock, granted, members } = replicas(2, { url: `redis://127.0.0.1:${relay.port}` })
      const [a, b] = members
      // Both have said they are there; each learns it has company.
      for (const member of members) await member.store.present()
      expect(await a?.store.present()).toBe(2)
      expect(await b?.store.present()).toBe(2)

      relay.close()
      for (let i = 0; i < 20; i++) {
        void a?.ask(`m${i}`, 100 + i)
        void b?.ask(`m${i}`, 200 + i)
      }
      await clock.advance(0)
      // 15 each: 30 together, Telegram's limit, though neither can see the other.
      expect(granted.filter((g) => g.startsWith("0:"))).toHaveLength(15)
      expect(granted.filter((g) => g.startsWith("1:"))).toHaveLength(15)
      await clock.advance(1_000)
      expect(granted).toHaveLength(40)
      // A private chat: one message every two seconds from each.
      void a?.ask("p1", 7)
      void a?.ask("p2", 7)
      await clock.advance(1_999)
      expect(granted.filter((g) => g.includes(":p"))).toEqual(["0:p1"])
      await clock.advance(1)
      expect(granted.filter((g) => g.includes(":p"))).toEqual(["0:p1", "0:p2"])
      for (const member of members) {
        expect(
          member.logs.find(
            "outbound pacing on this replica's own budget while Redis is unavailable",
          ),
        ).toEqual([expect.objectContaining({ level: "warn", replicas: 2, share_of_limits: "1/2" })])
      }

      relay.reopen()
      await clock.advance(2_000)
      granted.length = 0
      for (let i = 0; i < 20; i++) {
        void a?.ask(`n${i}`, 500 + i)
        void b?.ask(`n${i}`, 600 + i)
      }
      await clock.advance(0)
      // Shared again: 30 between them, however they are split.
      expect(granted).toHaveLength(30)
      expect(a?.logs.text()).toContain("shares the bot's budget through Redis again")
    })

    test("a replica that has never reached Redis assumes it has company: half of every limit", async () => {
      const { clock, granted, members } = replicas(1, {
        url: `redis://127.0.0.1:${closedPort()}`,
      })
      const [alone] = members
      expect(alone?.store.replicas).toBe(2)
      for (let i = 0; i < 20; i++) void alone?.ask(`m${i}`, 100 + i)
      await clock.advance(0)
      expect(granted).toHaveLength(15)
      await clock.advance(1_000)
      expect(granted).toHaveLength(20)
      // Once that second is over, deliveries at 14 a second (a burst of 2 first).
      await clock.advance(1_000)
      granted.length = 0
      for (let i = 0; i < 60; i++) void alone?.ask(`d${i}`, 200 + i, "delivery")
      await clock.advance(2_000)
      expect(granted.length).toBeGreaterThanOrEqual(14 * 2)
      expect(granted.length).toBeLessThanOrEqual(14 * 2 + 2)
    })
  })
}
