// Ordering, concurrency, dedupe, the rate limit under a burst, the error boundary and flood
// retries — with a controllable fake API so handlers can be held mid-flight.
import { afterEach, describe, expect, test } from "bun:test"
import { startBotApiStandIn } from "@nps/testing/stand-in"
import type { NpsApi, StatusResult } from "../src/api-client"
import { createPacer, type Pacer } from "../src/outbound/pacer"
import { fakeClock } from "./fake-clock"
import {
  deferred,
  type Harness,
  NO_LIMITS,
  settled,
  startHarness,
  textsTo,
  unreachableApi,
} from "./harness"

/** An API whose /status calls wait until the test releases them. */
function heldApi() {
  const held: { chatId: number; release: (result: StatusResult) => void }[] = []
  let arrived = deferred()
  const api: NpsApi = {
    ...unreachableApi(),
    status: (chatId) =>
      new Promise<StatusResult>((release) => {
        held.push({ chatId, release })
        arrived.resolve()
      }),
  }
  /** Resolves once `count` status calls are being held. */
  const waitForHeld = async (count: number) => {
    while (held.length < count) {
      await arrived.promise
      arrived = deferred()
    }
  }
  return { api, held, waitForHeld }
}

const notLinked: StatusResult = { kind: "not_linked" }

let h: Harness | undefined
afterEach(async () => {
  await h?.close()
  h = undefined
})

describe("per-chat ordering and concurrency", () => {
  test("a chat's second update starts only after its first finishes, while another chat runs meanwhile", async () => {
    const { api, held, waitForHeld } = heldApi()
    const standIn = await startBotApiStandIn()
    standIn.message(1, "/status") // slow: held in the API
    standIn.message(1, "/help") // must wait behind it
    standIn.message(2, "/status") // another chat: runs concurrently
    h = await startHarness({ api, standIn })
    await waitForHeld(2)
    expect(held.map((c) => c.chatId).sort()).toEqual([1, 2])
    expect(standIn.sent(1)).toHaveLength(0) // /help has not overtaken /status

    held.find((c) => c.chatId === 1)?.release(notLinked)
    const replies = await standIn.replies(1, 2)
    expect(replies[0]).toContain("Not linked")
    expect(replies[1]).toContain("/unlink")
    held.find((c) => c.chatId === 2)?.release(notLinked)
    await standIn.replies(2, 1)
    await h.close()
    await standIn.close()
  })

  test("at most `concurrency` chats are handled at once", async () => {
    const { api, held, waitForHeld } = heldApi()
    const standIn = await startBotApiStandIn()
    for (let chat = 1; chat <= 5; chat++) standIn.message(chat, "/status")
    h = await startHarness({ api, standIn, concurrency: 2 })
    await waitForHeld(2)
    await h.standIn.waitForRequest("getUpdates", (p) => Number(p.offset) > 5)
    expect(held).toHaveLength(2)
    for (let released = 0; released < 5; released++) {
      await waitForHeld(released + 1)
      held[released]?.release(notLinked)
    }
    await h.nps.idle()
    expect(held).toHaveLength(5)
    expect(standIn.sent()).toHaveLength(5)
    await h.close()
    await standIn.close()
  })

  test("an update delivered twice is handled once", async () => {
    h = await startHarness()
    const update = h.standIn.message(7, "/help")
    h.standIn.enqueue(structuredClone(update))
    const later = h.standIn.message(7, "/start")
    await settled(h, later)
    expect(textsTo(h.standIn, 7)).toHaveLength(2)
    expect(h.nps.dispatch(update)).toBe(false)
  })
})

describe("rate limit under a burst", () => {
  test("25 messages of one chat in one getUpdates batch: exactly 20 handled, one Slow down", async () => {
    const standIn = await startBotApiStandIn()
    let last = standIn.message(5, "/help")
    for (let i = 1; i < 25; i++) last = standIn.message(5, "/help")
    standIn.message(6, "/help")
    h = await startHarness({ standIn })
    await settled(h, last)
    expect(standIn.calls.find((c) => c.method === "getUpdates")?.response).toMatchObject({
      result: { length: 26 },
    })
    const replies = textsTo(standIn, 5)
    expect(replies.filter((r) => r.includes("/unlink"))).toHaveLength(20)
    expect(replies.filter((r) => /slow down/i.test(r))).toHaveLength(1)
    expect(textsTo(standIn, 6)).toHaveLength(1) // another chat is unaffected
    expect(
      h.logs.find("update handled").filter((r) => r.outcome === "rate_limited_silent"),
    ).toHaveLength(4)
    await h.close()
    await standIn.close()
  })

  test("the check is atomic even when a chat's updates run concurrently", async () => {
    h = await startHarness({ start: false })
    const updates = Array.from({ length: 25 }, () => h?.standIn.message(9, "/help"))
    await Promise.all(updates.map((u) => (u ? h?.nps.handle(u) : undefined)))
    const replies = textsTo(h.standIn, 9)
    expect(replies.filter((r) => r.includes("/unlink"))).toHaveLength(20)
    expect(replies.filter((r) => /slow down/i.test(r))).toHaveLength(1)
  })

  test("the budget is per chat: a group's members share one, and it refills after a minute", async () => {
    let now = 0
    h = await startHarness({ start: false, rateLimit: 3, now: () => now })
    const group = -1001234567890
    const send = (chat: number, from: number) =>
      h?.nps.handle(h.standIn.message(chat, "/help", { from: { id: from } }))
    for (const from of [1, 2, 1]) await send(group, from)
    await send(group, 2)
    await send(group, 3)
    await send(1, 1) // the same user in a private chat has a budget of their own
    expect(textsTo(h.standIn, group)).toHaveLength(4) // 3 replies + 1 Slow down; the 5th is silent
    expect(textsTo(h.standIn, 1)).toHaveLength(1)
    now += 60_000
    await send(group, 3)
    expect(textsTo(h.standIn, group).at(-1)).toContain("/unlink")
  })
})

describe("error boundary", () => {
  test("an unexpected error is logged with its stack, the user is told, and the bot keeps running", async () => {
    const api: NpsApi = {
      ...unreachableApi(),
      status: async () => {
        throw new TypeError("boom: something nobody expected")
      },
    }
    h = await startHarness({ api })
    expect(await h.standIn.say(11, "/status")).toEqual([
      expect.stringContaining("Something went wrong"),
    ])
    const [failure] = h.logs.find("update failed")
    expect(failure).toMatchObject({ chat_id: 11, command: "status", outcome: "error" })
    expect(JSON.stringify(failure?.error)).toContain("TypeError: boom")
    expect((failure?.error as { stack?: string } | undefined)?.stack).toContain("at ")
    expect(await h.standIn.say(11, "/help")).toEqual([expect.stringContaining("/status")])
    expect(JSON.stringify(await h.standIn.say(11, "/status"))).not.toContain("boom")
  })

  test("a user who blocked the bot is logged quietly, not as an error", async () => {
    h = await startHarness()
    h.standIn.fail("sendMessage", {
      status: 403,
      description: "Forbidden: bot was blocked by the user",
    })
    const update = h.standIn.message(15, "/help")
    await settled(h, update)
    expect(h.logs.find("update handled").at(-1)).toMatchObject({
      chat_id: 15,
      outcome: "forbidden",
    })
    expect(h.logs.find("update failed")).toHaveLength(0)
    expect(h.standIn.sent(15)).toHaveLength(1) // no second attempt to say "something went wrong"
  })

  test("the API being unreachable gives 'temporarily unavailable'", async () => {
    h = await startHarness({ api: unreachableApi() })
    for (const command of ["/status", "/profile", "/unlink", `/link nps_${"k".repeat(43)}`])
      expect(await h.standIn.say(12, command)).toEqual([
        expect.stringContaining("temporarily unavailable"),
      ])
  })
})

describe("outgoing flood limits", () => {
  /** The real pacer on a fake clock, telling the test when a 429 paused it. */
  const pausable = () => {
    const clock = fakeClock()
    const inner = createPacer({ limits: NO_LIMITS, clock })
    const paused = deferred<number>()
    const pacer: Pacer = {
      acquire: (chatId, priority, signal) => inner.acquire(chatId, priority, signal),
      pause: (ms) => {
        inner.pause(ms)
        paused.resolve(ms)
      },
      get waiting() {
        return inner.waiting
      },
    }
    return { clock, pacer, paused: paused.promise }
  }

  test("a 429 on sendMessage pauses every send for retry_after, then the reply goes once", async () => {
    const { clock, pacer, paused } = pausable()
    h = await startHarness({ pacer })
    h.standIn.fail("sendMessage", {
      status: 429,
      description: "Too Many Requests: retry after 2",
      retryAfter: 2,
    })
    h.standIn.message(13, "/help")
    expect(await paused).toBe(2_000)
    await clock.advance(1_999)
    expect(h.standIn.sent(13).map((c) => c.status)).toEqual([429])
    await clock.advance(1)
    await h.standIn.waitForCall("sendMessage", (c) => c.status === 200)
    await h.nps.idle()
    expect(h.standIn.sent(13).map((c) => c.status)).toEqual([429, 200])
    expect(textsTo(h.standIn, 13)[1]).toContain("/status")
  })

  test("a long flood wait is not retried: the reply fails, nothing is sent until it ends, then the bot carries on", async () => {
    const { clock, pacer, paused } = pausable()
    h = await startHarness({ pacer, sendRetry: { maxAttempts: 3, maxDelayMs: 5_000 } })
    h.standIn.fail("sendMessage", { status: 429, retryAfter: 600 })
    h.standIn.message(14, "/help")
    expect(await paused).toBe(600_000)
    // The handler's "something went wrong" waits for the pause like every other message.
    await clock.advance(599_999)
    expect(h.standIn.sent(14).map((c) => c.status)).toEqual([429])
    await clock.advance(1)
    await h.standIn.waitForCall("sendMessage", (c) => c.status === 200)
    await h.nps.idle()
    expect(h.standIn.sent(14).map((c) => c.status)).toEqual([429, 200])
    expect(textsTo(h.standIn, 14)[1]).toContain("Something went wrong")
    expect(await h.standIn.say(14, "/help")).toHaveLength(1)
  })
})
