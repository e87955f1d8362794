// The bot's Prometheus metrics, read over HTTP as Prometheus does: updates by outcome, API call
// latency, Telegram errors by code and rate-limited messages — and never a chat id or a secret
// in a label. Then METRICS_PORT as the real process reads it.
import { afterEach, describe, expect, test } from "bun:test"
import { startBotApiStandIn } from "@nps/testing/stand-in"
import { createBotMetrics, type MetricsServer, serveMetrics } from "../src/metrics"
import {
  DB_TIMEOUT,
  type Harness,
  inProcessApi,
  openRealApi,
  type RealApi,
  settled,
  spawnBot,
  startHarness,
} from "./harness"

let cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const step of cleanup.reverse()) await step()
  cleanup = []
})

/** `name{labels} value` lines of a scrape, keyed by everything before the value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue
    const cut = line.lastIndexOf(" ")
    out.set(line.slice(0, cut), Number(line.slice(cut + 1)))
  }
  return out
}

describe("GET /metrics", () => {
  let h: Harness
  let realApi: RealApi
  let server: MetricsServer

  const scrape = async () => {
    const response = await fetch(`http://127.0.0.1:${server.port}/metrics`)
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toStartWith("text/plain; version=0.0.4")
    return response.text()
  }

  test(
    "counts updates by outcome, API latency by endpoint and status, Telegram errors by code, rate-limited messages",
    async () => {
      realApi = await openRealApi()
      cleanup.push(() => realApi.close())
      const metrics = createBotMetrics()
      h = await startHarness({
        rateLimit: 2,
        metrics,
        sleep: async () => {}, // retries without waiting
        apiFactory: (logger) => inProcessApi(realApi, logger, { metrics }),
      })
      cleanup.push(() => h.close())
      server = serveMetrics(metrics.registry, { port: 0, hostname: "127.0.0.1" })
      cleanup.push(() => server.stop())

      const chat = 777_000_123
      await h.standIn.say(chat, "/start")
      await h.standIn.say(chat, "/status") // not linked: one API call, 200
      expect(await h.standIn.say(chat, "/help")).toEqual([expect.stringContaining("Slow down")])
      const silent = h.standIn.message(chat, "/help") // over the limit, already told: no reply
      await settled(h, silent)
      // Telegram refuses a reply (403: blocked), then answers a poll with a 502.
      h.standIn.fail("sendMessage", { status: 403 })
      const blocked = h.standIn.message(chat + 1, "/start")
      await settled(h, blocked)
      h.standIn.fail("getUpdates", { status: 502 })
      const afterOutage = h.standIn.message(chat + 2, "/help")
      await settled(h, afterOutage)

      const text = await scrape()
      const s = samples(text)
      expect(s.get('nps_bot_updates_total{outcome="welcomed"}')).toBe(1)
      expect(s.get('nps_bot_updates_total{outcome="not_linked"}')).toBe(1)
      expect(s.get('nps_bot_updates_total{outcome="rate_limited"}')).toBe(1)
      expect(s.get('nps_bot_updates_total{outcome="rate_limited_silent"}')).toBe(1)
      expect(s.get('nps_bot_updates_total{outcome="forbidden"}')).toBe(1)
      expect(s.get('nps_bot_updates_total{outcome="helped"}')).toBe(1)
      expect(s.get('nps_bot_rate_limited_messages_total{replied="true"}')).toBe(1)
      expect(s.get('nps_bot_rate_limited_messages_total{replied="false"}')).toBe(1)
      expect(
        s.get('nps_bot_api_request_duration_seconds_count{endpoint="status",status="200"}'),
      ).toBe(1)
      expect(
        s.get(
          'nps_bot_api_request_duration_seconds_bucket{le="+Inf",endpoint="status",status="200"}',
        ),
      ).toBe(1)
      expect(s.get('nps_bot_telegram_errors_total{method="sendMessage",code="403"}')).toBe(1)
      expect(s.get('nps_bot_telegram_errors_total{method="getUpdates",code="502"}')).toBe(1)
      expect(s.get("nps_bot_pending_updates")).toBe(0)
      expect(s.get("nps_bot_last_poll_success_timestamp_seconds")).toBeGreaterThan(0)
      expect(s.get("process_resident_memory_bytes")).toBeGreaterThan(0)

      // Labels carry kinds and codes only: no chat id, token or key anywhere in the scrape.
      for (const secret of [String(chat), String(chat + 1), h.standIn.token, realApi.serviceKey])
        expect(text).not.toContain(secret)
    },
    DB_TIMEOUT,
  )

  test("answers only GET /metrics", async () => {
    const metrics = createBotMetrics()
    server = serveMetrics(metrics.registry, { port: 0, hostname: "127.0.0.1" })
    cleanup.push(() => server.stop())
    const base = `http://127.0.0.1:${server.port}`
    expect((await fetch(`${base}/`)).status).toBe(404)
    expect((await fetch(`${base}/metrics`, { method: "POST" })).status).toBe(405)
    expect((await fetch(`${base}/metrics`)).status).toBe(200)
  })

  test("two bots in one process keep separate counts (a registry each)", async () => {
    const a = createBotMetrics()
    const b = createBotMetrics()
    a.update("welcomed")
    expect(await a.registry.metrics()).toContain('nps_bot_updates_total{outcome="welcomed"} 1')
    expect(await b.registry.metrics()).not.toContain('outcome="welcomed"')
  })
})

describe("METRICS_PORT in the real process", () => {
  test("serves /metrics on METRICS_PORT; a port in use is an error naming it, exit 1", async () => {
    const standIn = await startBotApiStandIn()
    cleanup.push(() => standIn.close())
    const env = (port: string) => ({
      NPS_BOT_TOKEN: standIn.token,
      TELEGRAM_API_ROOT: standIn.url,
      TELEGRAM_BOT_API_URL: "http://127.0.0.1:9/api",
      METRICS_PORT: port,
    })
    const bot = spawnBot(env("0"))
    cleanup.push(() => bot.proc.kill("SIGKILL"))
    const listening = await bot.waitForLog((r) => r.msg === "metrics listening")
    const port = new URL(String(listening.url)).port
    await standIn.say(5, "/start")
    // The reply is sent before the update is counted: wait for its log line, which follows.
    await bot.waitForLog((r) => r.msg === "update handled" && r.outcome === "welcomed")
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
    expect(samples(text).get('nps_bot_updates_total{outcome="welcomed"}')).toBe(1)

    const second = spawnBot(env(port))
    cleanup.push(() => second.proc.kill("SIGKILL"))
    expect(await second.proc.exited).toBe(1)
    await second.drained
    expect(second.lines.join("\n")).toContain(`METRICS_PORT ${port} is already in use`)

    bot.proc.kill("SIGTERM")
    expect(await bot.proc.exited).toBe(0)
  })
})
