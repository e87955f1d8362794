// Long polling as Telegram serves it: the backlog at start, offsets, failures with backoff,
// 409 conflicts, and stopping in the middle of a long poll without losing the batch.
import { afterEach, describe, expect, test } from "bun:test"
import { existsSync } from "node:fs"
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type BotApiStandIn, startBotApiStandIn } from "@nps/testing/stand-in"
import { Bot } from "gramio"
import { TokenRejectedError } from "../src/bot"
import { deferred, type Harness, settled, startHarness, textsTo } from "./harness"

let h: Harness | undefined
let standIn: BotApiStandIn | undefined
afterEach(async () => {
  await h?.close()
  await standIn?.close()
  h = undefined
  standIn = undefined
})

/** A sleep that returns at once and remembers what it was asked to wait. */
const recordingSleep = () => {
  const waits: number[] = []
  return { waits, sleep: async (ms: number) => void waits.push(ms) }
}

describe("polling", () => {
  test("works through the backlog that arrived while the bot was down, never dropping it", async () => {
    standIn = await startBotApiStandIn()
    const queued = [
      standIn.message(1, "/start"),
      standIn.message(2, "/help"),
      standIn.message(1, "/help"),
    ]
    h = await startHarness({ standIn })
    await settled(h, queued[2] ?? { update_id: 3 })
    expect(textsTo(standIn, 1)).toHaveLength(2)
    expect(textsTo(standIn, 2)).toHaveLength(1)
    const polls = standIn.calls.filter((c) => c.method === "getUpdates")
    expect(polls[0]?.params.offset).toBe(0)
    expect(polls.every((c) => Number(c.params.offset) >= 0)).toBe(true) // never offset -1 (drop)
    expect(standIn.calls.some((c) => c.method === "deleteWebhook")).toBe(false)
  })

  test("asks for messages and the bot's own membership changes, at once first (health within a second), then long-polls, and registers the command menu", async () => {
    h = await startHarness({ start: false })
    const longPoll = h.standIn.waitForRequest("getUpdates", (p) => p.timeout === 30)
    await h.nps.start()
    expect(await longPoll).toMatchObject({
      allowed_updates: ["message", "my_chat_member", "callback_query"],
    })
    const first = h.standIn.calls.find((c) => c.method === "getUpdates")
    expect(first?.params).toMatchObject({
      allowed_updates: ["message", "my_chat_member", "callback_query"],
      timeout: 0,
    })
    expect(h.standIn.calls.find((c) => c.method === "setMyCommands")?.status).toBe(200)
  })

  test("a 429 from getUpdates waits retry_after; a 5xx backs off; nothing is lost or repeated", async () => {
    standIn = await startBotApiStandIn()
    const { waits, sleep } = recordingSleep()
    standIn.fail("getUpdates", {
      status: 429,
      description: "Too Many Requests: retry after 7",
      retryAfter: 7,
    })
    standIn.fail(
      "getUpdates",
      { status: 502, body: "<html><body>502 Bad Gateway</body></html>" },
      2,
    )
    const update = standIn.message(3, "/help")
    h = await startHarness({ standIn, sleep })
    await settled(h, update)
    // retry_after is honoured exactly; backoff doubles with each failure in a row.
    expect(waits).toEqual([7_000, 2_000, 4_000])
    expect(textsTo(standIn, 3)).toHaveLength(1)
    const failures = h.logs.find("getUpdates failed")
    expect(failures.map((f) => f.status)).toEqual([429, 502])
    expect(h.logs.find("polling keeps failing")).toHaveLength(1) // the third failure in a row
    expect(h.logs.find("polling recovered")).toHaveLength(1)
    expect(h.nps.health()).toMatchObject({ state: "polling", consecutiveFailures: 0 })
  })

  test("repeated 409 Conflict is logged as an error once, then keeps backing off", async () => {
    standIn = await startBotApiStandIn()
    const { waits, sleep } = recordingSleep()
    standIn.fail("getUpdates", { status: 409 }, 6)
    const update = standIn.message(4, "/help")
    h = await startHarness({ standIn, sleep })
    await settled(h, update)
    const conflicts = h.logs.lines.filter((l) => l.includes('"level":"error"'))
    expect(conflicts).toHaveLength(1)
    expect(conflicts[0]).toContain("409")
    expect(waits).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000])
    expect(textsTo(standIn, 4)).toHaveLength(1)
  })

  test("health reports a conflict while it lasts", async () => {
    standIn = await startBotApiStandIn()
    const gate = deferred()
    const backingOff = deferred()
    standIn.fail("getUpdates", { status: 409 }, 3)
    h = await startHarness({
      standIn,
      sleep: async () => {
        backingOff.resolve()
        await gate.promise
      },
    })
    await backingOff.promise
    expect(h.nps.health()).toMatchObject({ state: "conflict", consecutiveFailures: 1 })
    gate.resolve()
  })

  test("stop() during a long poll returns at once; the update arriving then is handled by the next run, once", async () => {
    standIn = await startBotApiStandIn()
    h = await startHarness({ standIn })
    expect(await standIn.say(5, "/help")).toHaveLength(1)
    await standIn.waitForPoll()
    const started = performance.now()
    await h.nps.stop()
    expect(performance.now() - started).toBeLessThan(1_000) // not the 30 s of the poll
    standIn.message(5, "/start")

    const next = await startHarness({ standIn })
    h = next
    const [reply] = await standIn.replies(5, 2)
    expect(reply).toContain("/unlink") // the first run's /help reply
    await next.nps.idle()
    // The first run confirmed its /help on stop: the second run saw only /start.
    expect(textsTo(standIn, 5)).toHaveLength(2)
    expect(textsTo(standIn, 5)[1]).toContain("NPS Oracle Bot")
  })

  test("stop() while a getUpdates response is arriving does not lose that batch", async () => {
    standIn = await startBotApiStandIn()
    const responseArrived = deferred()
    const neverReleased = deferred()
    let holdNext = false
    h = await startHarness({
      standIn,
      polling: {
        // Telegram has answered with the batch; the bot has not read it yet when stop() comes.
        fetch: (async (input: string | URL | Request, init?: RequestInit) => {
          const response = await fetch(input, init)
          if (holdNext) {
            holdNext = false
            responseArrived.resolve()
            await Promise.race([
              neverReleased.promise,
              new Promise((resolve) => init?.signal?.addEventListener("abort", resolve)),
            ])
          }
          return response
        }) as typeof fetch,
      },
    })
    await standIn.waitForPoll()
    holdNext = true
    const update = standIn.message(6, "/help")
    await responseArrived.promise
    await h.nps.stop()
    expect(textsTo(standIn, 6)).toHaveLength(0)

    h = await startHarness({ standIn })
    await settled(h, update)
    expect(textsTo(standIn, 6)).toHaveLength(1)
  })

  test("GramIO 0.10.0's own polling drops a batch fetched during stop() — why the bot polls itself", async () => {
    // If this starts failing, GramIO has fixed it (upstream f51a55d) and polling.ts may go.
    standIn = await startBotApiStandIn()
    const handled: number[] = []
    const bot = new Bot(standIn.token, { api: { baseURL: `${standIn.url}/bot` } }).on(
      "message",
      (ctx) => {
        handled.push(ctx.updateId ?? -1)
      },
    )
    const batchQueued = deferred<unknown[]>()
    const addBatch = bot.updates.queue.addBatch.bind(bot.updates.queue)
    bot.updates.queue.addBatch = (events) => {
      addBatch(events)
      batchQueued.resolve(events)
    }
    await bot.start({ longPolling: { timeout: 5 } })
    await standIn.waitForPoll()
    await bot.stop()
    const update = standIn.message(7, "hello") // answers the poll that stop() left open
    expect(await batchQueued.promise).toHaveLength(1)
    // The offset moved past the update (the next getUpdates would confirm it to Telegram)…
    expect((bot.updates as unknown as { offset: number }).offset).toBe(update.update_id + 1)
    // …but the queue was already stopped, so it is never handled.
    expect(bot.updates.queue.isActive).toBe(false)
    expect(bot.updates.queue.queued).toBe(1)
    expect(handled).toEqual([])
  })

  test("touches the heartbeat file after each successful getUpdates", async () => {
    const dir = await mkdtemp(join(tmpdir(), "nps-bot-"))
    const heartbeatFile = join(dir, "heartbeat")
    try {
      h = await startHarness({ heartbeatFile })
      const update = h.standIn.message(8, "/help")
      await settled(h, update)
      const stamp = Date.parse(await readFile(heartbeatFile, "utf8"))
      expect(Date.now() - stamp).toBeLessThan(5_000)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe("start-up", () => {
  test("a heartbeat left by an earlier process is removed at once; a new one comes with Telegram's first answer", async () => {
    const dir = await mkdtemp(join(tmpdir(), "nps-bot-"))
    const heartbeatFile = join(dir, "heartbeat")
    try {
      await writeFile(heartbeatFile, new Date().toISOString()) // fresh, but not this bot's
      standIn = await startBotApiStandIn()
      standIn.fail("getMe", { status: 502, body: "<html>502</html>" })
      const retrying = deferred()
      const gate = deferred()
      h = await startHarness({
        standIn,
        heartbeatFile,
        start: false,
        sleep: async () => {
          retrying.resolve()
          await gate.promise
        },
      })
      const starting = h.nps.start()
      await retrying.promise // Telegram has not answered yet
      expect(existsSync(heartbeatFile)).toBe(false)
      gate.resolve()
      await starting
      await standIn.waitForPoll() // the first poll returned at once; the long poll is open
      expect(existsSync(heartbeatFile)).toBe(true)
      expect(standIn.sent()).toEqual([]) // no message was needed to turn healthy
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  test("keeps retrying getMe while Telegram is unreachable, then starts", async () => {
    standIn = await startBotApiStandIn()
    const { waits, sleep } = recordingSleep()
    standIn.fail("getMe", { status: 502, body: "<html>502</html>" }, 2)
    h = await startHarness({ standIn, sleep })
    expect(waits).toEqual([1_000, 2_000])
    expect(await standIn.say(9, "/help")).toHaveLength(1)
  })

  test("a token Telegram rejects is final", async () => {
    standIn = await startBotApiStandIn()
    standIn.fail("getMe", { status: 401, description: "Unauthorized" })
    await expect(startHarness({ standIn })).rejects.toBeInstanceOf(TokenRejectedError)
  })
})
