// The outbound budget, on a fake clock: Telegram's limits, in-flight sends counted until they
// finish, replies before deliveries, deliveries spaced below the limit, and a 429 pausing all —
// with the budget in this process's memory, and in Redis as replicas share it.
import { afterEach, describe, expect, test } from "bun:test"
import { createPacer, type Permit, type Priority } from "../src/outbound/pacer"
import { budgetStores, closeStores, type StoreKind, watched } from "./budget-stores"
import { fakeClock } from "./fake-clock"

afterEach(closeStores)

for (const kind of budgetStores)
  describe(`the pacer, budget in ${kind.name}`, () => pacerTests(kind))

function pacerTests(kind: StoreKind) {
  function setup() {
    let watch: ReturnType<typeof watched> | undefined
    const clock = fakeClock({ busy: () => watch?.busy() })
    watch = watched(kind.open(clock.now))
    const pacer = createPacer({ clock, store: watch.store })
    const granted: string[] = []
    /** Asks for a slot; `name` is recorded when granted, and the send finishes at once unless held. */
    const ask = (name: string, chatId: number, priority: Priority = "reply", hold = false) =>
      pacer.acquire(chatId, priority).then((permit) => {
        granted.push(name)
        if (!hold) permit.done()
        return permit
      })
    return { clock, pacer, granted, ask }
  }

  test("a lone message goes at once", async () => {
    const { ask, granted, clock } = setup()
    await ask("hello", 1)
    expect(granted).toEqual(["hello"])
    await clock.advance(0)
  })

  test("at most 30 a second overall: the 31st waits until a second after the first finished", async () => {
    const { ask, granted, clock, pacer } = setup()
    for (let i = 0; i < 31; i++) void ask(`m${i}`, 100 + i)
    await clock.advance(0)
    expect(granted).toHaveLength(30)
    expect(pacer.waiting).toBe(1)
    await clock.advance(999)
    expect(granted).toHaveLength(30)
    await clock.advance(1)
    expect(granted).toEqual(Array.from({ length: 31 }, (_, i) => `m${i}`))
  })

  test("a send still in flight counts against the limit until it finishes", async () => {
    const { ask, granted, clock } = setup()
    const held: Promise<Permit>[] = []
    for (let i = 0; i < 30; i++) held.push(ask(`m${i}`, 100 + i, "reply", true))
    void ask("late", 200)
    await clock.advance(10_000)
    expect(granted).not.toContain("late")
    ;(await held[0])?.done()
    await clock.advance(999)
    expect(granted).not.toContain("late")
    await clock.advance(1)
    expect(granted).toContain("late")
  })

  test("one message a second to a private chat, 20 a minute to a group; other chats go meanwhile", async () => {
    const { ask, granted, clock } = setup()
    void ask("a1", 7)
    void ask("a2", 7)
    void ask("b1", 8)
    await clock.advance(0)
    expect(granted).toEqual(["a1", "b1"])
    await clock.advance(1_000)
    expect(granted).toEqual(["a1", "b1", "a2"])

    const group = -1_001_234_567_890
    for (let i = 0; i < 21; i++) {
      void ask(`g${i}`, group)
      await clock.advance(40) // within the overall limit
    }
    expect(granted.filter((g) => g.startsWith("g"))).toHaveLength(20)
    await clock.advance(60_000 - 21 * 40)
    expect(granted).toContain("g20")
  })

  test("a reply goes before deliveries that were waiting longer", async () => {
    const { ask, granted, clock } = setup()
    for (let i = 0; i < 30; i++) void ask(`fill${i}`, 100 + i)
    await clock.advance(0)
    void ask("d1", 301, "delivery")
    void ask("d2", 302, "delivery")
    void ask("reply", 303, "reply")
    await clock.advance(1_000)
    expect(granted.slice(30, 31)).toEqual(["reply"])
    await clock.advance(1_000)
    expect(granted.slice(30)).toEqual(["reply", "d1", "d2"])
  })

  test("deliveries average 28 a second, leaving room for replies", async () => {
    const { ask, granted, clock } = setup()
    for (let i = 0; i < 200; i++) void ask(`d${i}`, 1_000 + i, "delivery")
    await clock.advance(999)
    // A short burst first (never past Telegram's 30), then an even pace.
    expect(granted.length).toBeGreaterThanOrEqual(28)
    expect(granted.length).toBeLessThanOrEqual(30)
    await clock.advance(2_001)
    expect(granted.length).toBeGreaterThanOrEqual(28 * 3)
    expect(granted.length).toBeLessThanOrEqual(28 * 3 + 4)
    // Mid-broadcast, a reply finds room at once.
    const before = granted.length
    void ask("reply", 5)
    await clock.advance(0)
    expect(granted.slice(before)).toEqual(["reply"])
  })

  test("a 429 pauses every send for retry_after", async () => {
    const { ask, granted, clock, pacer } = setup()
    pacer.pause(2_000)
    void ask("reply", 1)
    void ask("delivery", 2, "delivery")
    await clock.advance(1_999)
    expect(granted).toEqual([])
    await clock.advance(1)
    expect(granted).toEqual(["reply", "delivery"])
  })

  test("a waiter that gives up leaves the line", async () => {
    const { ask, granted, clock, pacer } = setup()
    void ask("first", 9)
    const stop = new AbortController()
    const gone = pacer.acquire(9, "delivery", stop.signal)
    void ask("next", 9)
    stop.abort(new Error("stopping"))
    await expect(gone).rejects.toThrow("stopping")
    await clock.advance(1_000)
    expect(granted).toEqual(["first", "next"])
    expect(pacer.waiting).toBe(0)
  })

  test("the store frees each chat a window after its send finished, across thousands of chats", async () => {
    const store = kind.open(() => 0)
    const slot = (key: string) => [{ key, limit: 1, windowMs: 1_000 }]
    for (let i = 0; i < 2_000; i++) {
      expect(await store.take(slot(`chat:${i}`), `${i}`, i)).toEqual({ ok: true })
      await store.finish(slot(`chat:${i}`), `${i}`, i)
    }
    expect(await store.take(slot("chat:1999"), "again", 2_000)).toMatchObject({
      ok: false,
      full: "chat:1999",
    })
    expect(await store.take(slot("chat:0"), "again", 2_000)).toEqual({ ok: true })
  })
}
