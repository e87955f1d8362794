// The outbound budget with paid broadcast, on a fake clock: deliveries at TELEGRAM_BROADCAST_RATE
// beyond Telegram's free 30 a second, per-chat limits and replies first as before, back to 30 a
// second once Telegram refuses to bill the bot — in memory, in Redis, and shared by two replicas.
// Also: waiters the store just said are full are not asked about again before they can fit.
import { afterEach, describe, expect, test } from "bun:test"
import { broadcastLimits, createBroadcastMode } from "../src/outbound/broadcast"
import {
  type BudgetStore,
  createPacer,
  type PacerLimits,
  type Priority,
} from "../src/outbound/pacer"
import {
  budgetStores,
  closeStores,
  openShared,
  type StoreKind,
  type WatchedStore,
  watched,
} from "./budget-stores"
import { fakeClock } from "./fake-clock"
import { captureLogs } from "./harness"

afterEach(closeStores)

/** A store that counts the takes it was asked for. */
function counting(store: BudgetStore) {
  const counter = { takes: 0 }
  const wrapped: BudgetStore = {
    take: (...args) => {
      counter.takes++
      return store.take(...args)
    },
    finish: (...args) => store.finish(...args),
    pause: (...args) => store.pause(...args),
  }
  return { store: wrapped, counter }
}

for (const kind of budgetStores)
  describe(`paid broadcast pacing, budget in ${kind.name}`, () => paidTests(kind))

function paidTests(kind: StoreKind) {
  function setup(limits: PacerLimits | (() => PacerLimits)) {
    let watch: WatchedStore | undefined
    const clock = fakeClock({ busy: () => watch?.busy() })
    const { store, counter } = counting(kind.open(clock.now))
    watch = watched(store)
    const pacer = createPacer({ clock, store: watch.store, limits })
    const granted: string[] = []
    const ask = (name: string, chatId: number, priority: Priority = "delivery") =>
      pacer.acquire(chatId, priority).then((permit) => {
        granted.push(name)
        permit.done()
      })
    return { clock, pacer, granted, ask, counter }
  }

  test("deliveries go at TELEGRAM_BROADCAST_RATE, far beyond the free 30 a second", async () => {
    const { ask, granted, clock } = setup(broadcastLimits(true, 200))
    for (let i = 0; i < 600; i++) void ask(`d${i}`, 10_000 + i)
    await clock.advance(999)
    // A burst of a twentieth of a second's worth, then one every 5 ms.
    expect(granted.length).toBeGreaterThanOrEqual(200)
    expect(granted.length).toBeLessThanOrEqual(210)
    await clock.advance(1_000)
    expect(granted.length).toBeGreaterThanOrEqual(400)
    expect(granted.length).toBeLessThanOrEqual(410)
  })

  test("one a second to a private chat and replies first still hold", async () => {
    const { ask, granted, clock } = setup(broadcastLimits(true, 50))
    for (let i = 0; i < 3; i++) void ask(`same${i}`, 7)
    for (let i = 0; i < 100; i++) void ask(`d${i}`, 20_000 + i)
    await clock.advance(10)
    const before = granted.length
    void ask("reply", 8, "reply")
    await clock.advance(0)
    expect(granted.slice(before)).toEqual(["reply"])
    await clock.advance(989)
    expect(granted.filter((g) => g.startsWith("same"))).toEqual(["same0"])
    await clock.advance(1_000)
    expect(granted.filter((g) => g.startsWith("same"))).toEqual(["same0", "same1"])
  })

  test("refused by Telegram: at most 30 a second from then on, said once", async () => {
    const logs = captureLogs()
    const mode = createBroadcastMode({ paid: true, rate: 1_000, logger: logs.logger })
    const { ask, granted, clock } = setup(() => mode.limits)
    for (let i = 0; i < 400; i++) void ask(`d${i}`, 30_000 + i)
    await clock.advance(100)
    const paidCount = granted.length
    expect(paidCount).toBeGreaterThan(30)
    mode.refused({ code: 400, message: "Bad Request: BALANCE_TOO_LOW" })
    mode.refused({ code: 400, message: "Bad Request: BALANCE_TOO_LOW" })
    expect(mode.paid).toBe(false)
    await clock.advance(999)
    expect(granted.length - paidCount).toBeGreaterThan(0)
    expect(granted.length - paidCount).toBeLessThanOrEqual(30)
    await clock.advance(1_000)
    expect(granted.length - paidCount).toBeLessThanOrEqual(60)
    const warnings = logs.lines.filter((line) => line.includes("refused a paid broadcast"))
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain("TELEGRAM_PAID_BROADCAST")
  })

  test("a waiter that gives up while the store answers takes nobody else's turn", async () => {
    const { ask, granted, clock, pacer } = setup(broadcastLimits(false, 28))
    const stop = new AbortController()
    const gone = pacer.acquire(9, "reply", stop.signal)
    void ask("other", 10, "reply")
    stop.abort(new Error("stopping"))
    await expect(gone).rejects.toThrow("stopping")
    await clock.advance(0)
    expect(granted).toEqual(["other"])
    // The use it was given is handed back: its chat's second starts then, not never.
    void ask("next", 9, "reply")
    await clock.advance(1_000)
    expect(granted).toEqual(["other", "next"])
    expect(pacer.waiting).toBe(0)
  })

  test("waiters for a chat that is full are not asked about again until it has room", async () => {
    const { ask, granted, clock, counter } = setup(broadcastLimits(false, 28))
    for (let i = 0; i < 20; i++) void ask(`same${i}`, 9)
    await clock.advance(5_000)
    expect(granted).toEqual(["same0", "same1", "same2", "same3", "same4", "same5"])
    // One take granted and about one told "full" a second, not one per waiter per pass.
    expect(counter.takes).toBeLessThanOrEqual(2 * granted.length + 2)
  })
}

if (budgetStores.length > 1)
  describe("paid broadcast shared by two replicas through Redis", () => {
    test("the rate is the bot's, not each replica's", async () => {
      const shared = crypto.randomUUID()
      const watches: WatchedStore[] = []
      const clock = fakeClock({
        busy: () => {
          const pending = watches.map((w) => w.busy()).filter(Boolean)
          return pending.length ? Promise.all(pending) : undefined
        },
      })
      const granted: string[] = []
      const limits = broadcastLimits(true, 100)
      for (const n of [0, 1]) {
        const watch = watched(openShared(clock.now, { shared }))
        watches.push(watch)
        const pacer = createPacer({ clock, store: watch.store, limits })
        for (let i = 0; i < 150; i++)
          void pacer.acquire(100_000 * (n + 1) + i, "delivery").then((permit) => {
            granted.push(`${n}:${i}`)
            permit.done()
          })
      }
      await clock.advance(999)
      expect(granted.length).toBeGreaterThanOrEqual(95)
      expect(granted.length).toBeLessThanOrEqual(105)
      expect(granted.filter((g) => g.startsWith("0:")).length).toBeGreaterThan(0)
      expect(granted.filter((g) => g.startsWith("1:")).length).toBeGreaterThan(0)
    })
  })
