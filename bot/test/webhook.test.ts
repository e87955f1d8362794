// Webhook mode (BOT_MODE=webhook), one replica: Telegram — the stand-in — POSTs updates with the
// secret header; the bot answers 2xx only once an update is handled. Real HTTP throughout.
import { afterEach, describe, expect, test } from "bun:test"
import { type BotApiStandIn, startBotApiStandIn } from "@nps/testing/stand-in"
import type { NpsApi, StatusResult } from "../src/api-client"
import { createBotMetrics } from "../src/metrics"
import { deferred, spawnBot, startHarness, textsTo, unreachableApi } from "./harness"
import { type Replica, startReplica, WEBHOOK_SECRET } from "./replica"

/** An API whose /status calls wait until the test releases them. */
function heldApi() {
  const held: ((result: StatusResult) => void)[] = []
  let arrived = deferred()
  const api: NpsApi = {
    ...unreachableApi(),
    status: () =>
      new Promise<StatusResult>((release) => {
        held.push(release)
        arrived.resolve()
      }),
  }
  const waitForHeld = async (count: number) => {
    while (held.length < count) {
      await arrived.promise
      arrived = deferred()
    }
  }
  return { api, held, waitForHeld }
}

const notLinked: StatusResult = { kind: "not_linked" }

const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
})

async function setUp(options: Partial<Parameters<typeof startReplica>[0]> = {}) {
  const standIn = await startBotApiStandIn()
  cleanup.push(() => standIn.close())
  const replica = await startReplica({ standIn, api: unreachableApi(), ...options })
  cleanup.push(() => replica.stop())
  return { standIn, replica }
}

const handledLines = (replica: Replica) => replica.logs.find("update handled")

describe("webhook mode", () => {
  test("registers the webhook at start with its secret and the update types the bot handles; stopping leaves it set", async () => {
    const { standIn, replica } = await setUp()
    const call = standIn.calls.find((c) => c.method === "setWebhook")
    expect(call?.params).toMatchObject({
      url: replica.url,
      secret_token: WEBHOOK_SECRET,
      allowed_updates: ["message", "my_chat_member", "callback_query"],
      drop_pending_updates: false,
    })
    expect(standIn.calls.some((c) => c.method === "getUpdates")).toBe(false)

    await replica.stop()
    expect(standIn.webhook?.url).toBe(replica.url)
    expect(standIn.calls.some((c) => c.method === "deleteWebhook")).toBe(false)
  })

  test("nps_bot_last_poll_success_timestamp_seconds follows the serving receiver, not 0", async () => {
    const metrics = createBotMetrics()
    const before = Date.now() / 1000
    await setUp({ metrics })
    const text = await metrics.registry.metrics()
    const value = Number(/^nps_bot_last_poll_success_timestamp_seconds (\S+)$/m.exec(text)?.[1])
    expect(value).toBeGreaterThanOrEqual(Math.floor(before))
    expect(value).toBeLessThanOrEqual(Date.now() / 1000)
  })

  test("a missing or wrong secret is 401, and nothing is handled", async () => {
    const { standIn, replica } = await setUp()
    const update = standIn.draft(42, "/help")
    for (const secret of [null, "wrong", `${WEBHOOK_SECRET}x`, WEBHOOK_SECRET.slice(0, -1)]) {
      const response = await standIn.post(update, { url: replica.url, secret })
      expect(response.status).toBe(401)
      expect(await response.json()).toMatchObject({ error: "unauthorized" })
    }
    // The same update with the right secret is still new: nothing was recorded for it.
    expect((await standIn.post(update, { url: replica.url })).status).toBe(200)
    expect(textsTo(standIn, 42)).toHaveLength(1)
    expect(handledLines(replica)).toHaveLength(1)
    // The logger would scrub the secret (it is given it): so it must not have been handed it at all.
    expect(replica.logs.text()).not.toContain(WEBHOOK_SECRET)
    expect(replica.logs.text()).not.toContain("REDACTED")
  })

  test("a failed setWebhook is retried by registration alone: one call and one warning per attempt", async () => {
    const standIn = await startBotApiStandIn()
    cleanup.push(() => standIn.close())
    standIn.fail("setWebhook", { status: 502, description: "Bad Gateway" })
    const replica = await startReplica({ standIn, api: unreachableApi() })
    cleanup.push(() => replica.stop())
    expect(standIn.calls.filter((c) => c.method === "setWebhook").map((c) => c.status)).toEqual([
      502, 200,
    ])
    expect(replica.logs.find("could not register the webhook, retrying")).toHaveLength(1)
    expect(replica.logs.find("telegram call failed, retrying")).toEqual([])
  })

  test("answers 2xx only once the update is handled, after its reply", async () => {
    const { api, held, waitForHeld } = heldApi()
    const { standIn, replica } = await setUp({ api })
    const events: string[] = []
    standIn.onCall((call) => {
      if (call.method === "sendMessage") events.push("reply")
    })
    const answered = standIn.post(standIn.draft(7, "/status"), { url: replica.url }).then((r) => {
      events.push(`answered ${r.status}`)
      return r
    })
    await waitForHeld(1)
    // A request made after the update reached its handler comes back first: no early 200.
    expect((await fetch(replica.health)).status).toBe(200)
    expect(events).toEqual([])

    held[0]?.(notLinked)
    await answered
    expect(events).toEqual(["reply", "answered 200"])
    expect(textsTo(standIn, 7)[0]).toContain("Not linked")
  })

  test("the same update delivered again — while it is handled, or after — is handled once", async () => {
    const { api, held, waitForHeld } = heldApi()
    const { standIn, replica } = await setUp({ api })
    const update = standIn.draft(8, "/status")
    const first = standIn.post(update, { url: replica.url })
    await waitForHeld(1)
    // Telegram gave up on the first request and tries again: the second waits for the same work.
    const second = standIn.post(update, { url: replica.url })
    held[0]?.(notLinked)
    expect([(await first).status, (await second).status]).toEqual([200, 200])
    expect((await standIn.post(update, { url: replica.url })).status).toBe(200)
    expect(held).toHaveLength(1)
    expect(textsTo(standIn, 8)).toHaveLength(1)
  })

  test("an update not handled in time answers 503, is still handled once, and Telegram's retry gets 200", async () => {
    const { api, held, waitForHeld } = heldApi()
    const { standIn, replica } = await setUp({ api, handleTimeoutMs: 200 })
    const update = standIn.draft(9, "/status")
    const first = standIn.post(update, { url: replica.url })
    await waitForHeld(1)
    expect((await first).status).toBe(503)
    held[0]?.(notLinked)
    await standIn.replies(9, 1)
    expect((await standIn.post(update, { url: replica.url })).status).toBe(200)
    expect(held).toHaveLength(1)
    expect(textsTo(standIn, 9)).toHaveLength(1)
  })

  test("a conversation as Telegram delivers it: queued updates POSTed to the webhook, one chat in order", async () => {
    const { standIn } = await setUp()
    expect((await standIn.say(5, "/start"))[0]).toContain("NPS Oracle Bot")
    const since = standIn.calls.length
    standIn.message(5, "/help")
    const last = standIn.message(5, "hello")
    const [help, fallback] = await standIn.replies(5, 2, { since })
    expect(help).toContain("/profile")
    expect(fallback).toContain("/help")
    await standIn.delivered(last.update_id)
    expect(standIn.deliveries.map((d) => d.status)).toEqual([200, 200, 200])
    expect(standIn.pendingUpdates).toBe(0)
  })

  test("GET /healthz is 200 while serving and 503 before the webhook is registered; wrong paths, methods and bodies are refused", async () => {
    const standIn = await startBotApiStandIn()
    cleanup.push(() => standIn.close())
    const replica = await startReplica({ standIn, api: unreachableApi(), start: false })
    cleanup.push(() => replica.stop())
    expect((await fetch(replica.health)).status).toBe(503)
    const early = await standIn.post(standIn.draft(1, "/help"), {
      url: replica.url,
      secret: WEBHOOK_SECRET,
    })
    expect(early.status).toBe(503) // not serving yet: Telegram tries again later
    await replica.nps.start()
    await replica.receiver.start()
    expect(await (await fetch(replica.health)).json()).toEqual({ status: "ok" })

    const base = new URL(replica.url)
    expect((await fetch(new URL("/other", base))).status).toBe(404)
    expect((await fetch(replica.url)).status).toBe(405)
    const post = (body: string) =>
      fetch(replica.url, {
        method: "POST",
        headers: { "x-telegram-bot-api-secret-token": WEBHOOK_SECRET },
        body,
      })
    expect((await post("not json")).status).toBe(400)
    expect((await post(JSON.stringify({ message: {} }))).status).toBe(400)
    expect((await post(JSON.stringify({ update_id: -1 }))).status).toBe(400)
    expect(textsTo(standIn, 1)).toEqual([])
  })
})

describe("polling after webhook mode", () => {
  test("polling deletes a webhook left set at start, keeping the updates it had not delivered", async () => {
    const standIn = await startBotApiStandIn()
    cleanup.push(() => standIn.close())
    await fetch(`${standIn.url}/bot${standIn.token}/setWebhook`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ url: "http://127.0.0.1:9/gone", secret_token: "old" }),
    })
    standIn.message(3, "/help") // undeliverable: the webhook's host is gone
    const h = await startHarness({ standIn })
    cleanup.push(() => h.close())
    expect((await standIn.replies(3, 1))[0]).toContain("/profile")
    const deleted = standIn.calls.find((c) => c.method === "deleteWebhook")
    expect(deleted?.params.drop_pending_updates).toBe(false)
    expect(standIn.webhook).toBeUndefined()
    expect(h.logs.find("deleted the webhook left set for this bot, to poll instead")).toHaveLength(
      1,
    )
  })
})

describe("start:bot with BOT_MODE=webhook", () => {
  const freePort = () => {
    const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } })
    const port = listener.port
    listener.stop(true)
    return port
  }
  const webhookEnv = (standIn: BotApiStandIn, port: number, apiUrl = "http://127.0.0.1:9/api") => ({
    NPS_BOT_TOKEN: standIn.token,
    TELEGRAM_API_ROOT: standIn.url,
    TELEGRAM_BOT_API_URL: apiUrl,
    BOT_MODE: "webhook",
    WEBHOOK_URL: `http://127.0.0.1:${port}/telegram/${"p".repeat(8)}`,
    WEBHOOK_SECRET,
    WEBHOOK_HOST: "127.0.0.1",
    WEBHOOK_PORT: String(port),
  })

  test("converses, and SIGTERM finishes the update in flight, answers it and exits 0 with the webhook still set", async () => {
    const standIn = await startBotApiStandIn()
    cleanup.push(() => standIn.close())
    // An NPS API that never answers: /status stays in flight until the bot gives up on it.
    const apiCalled = deferred()
    const silentApi = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (request) => {
        // /status's own call, not the chat's language looked up on /start: only then is the
        // update in flight.
        if (new URL(request.url).pathname.includes("/status")) apiCalled.resolve()
        return new Promise<Response>(() => {})
      },
    })
    cleanup.push(() => silentApi.stop(true))
    const port = freePort()
    const bot = spawnBot(webhookEnv(standIn, port, `http://127.0.0.1:${silentApi.port}/api`))
    cleanup.push(() => bot.proc.kill("SIGKILL"))
    await bot.waitForLog((r) => r.msg === "webhook registered", 15_000)
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200)
    expect((await standIn.say(11, "/start"))[0]).toContain("NPS Oracle Bot")

    const inFlight = standIn.post(standIn.draft(11, "/status"))
    await apiCalled.promise
    bot.proc.kill("SIGTERM")
    const answer = await inFlight
    expect(answer.status).toBe(200)
    expect(textsTo(standIn, 11)[1]).toContain("temporarily unavailable")
    expect(await bot.proc.exited).toBe(0)
    expect(standIn.webhook?.url).toBe(`http://127.0.0.1:${port}/telegram/pppppppp`)
    expect(standIn.calls.some((c) => c.method === "deleteWebhook")).toBe(false)
    await bot.drained
    expect(bot.lines.join("\n")).not.toContain(WEBHOOK_SECRET)
  }, 30_000)

  test("WEBHOOK_PORT in use, or a webhook Telegram refuses, stops the bot with exit 1 naming the variable", async () => {
    const standIn = await startBotApiStandIn()
    cleanup.push(() => standIn.close())
    const taken = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() })
    cleanup.push(() => taken.stop(true))
    const busy = spawnBot(webhookEnv(standIn, taken.port as number))
    expect(await busy.proc.exited).toBe(1)
    await busy.drained
    expect(busy.lines.join("\n")).toContain(`WEBHOOK_PORT ${taken.port} is already in use`)

    standIn.fail("setWebhook", {
      status: 400,
      description: "Bad Request: bad webhook: An HTTPS URL must be provided for webhook",
    })
    const refused = spawnBot(webhookEnv(standIn, freePort()))
    expect(await refused.proc.exited).toBe(1)
    await refused.drained
    const line = refused.lines.map((l) => JSON.parse(l)).find((r) => r.level === "error")
    expect(line).toMatchObject({ variable: "WEBHOOK_URL" })
    expect(line.msg).toContain("HTTPS URL must be provided")
  }, 30_000)

  test("BOT_MODE=webhook without WEBHOOK_URL or WEBHOOK_SECRET is a configuration error", async () => {
    const bot = spawnBot({ NPS_BOT_TOKEN: "123:abc", BOT_MODE: "webhook" })
    expect(await bot.proc.exited).toBe(1)
    await bot.drained
    const variables = bot.lines.map((l) => JSON.parse(l).variable)
    expect(variables).toEqual(["WEBHOOK_URL", "WEBHOOK_SECRET"])
  })
})
