// What operators see of the bot in Prometheus: a registry per bot (never prom-client's global
// default, so any number of bots can live in one process), and an HTTP server for GET /metrics
// when METRICS_PORT is set. Labels come from small fixed sets — outcomes, endpoints, methods,
// status codes — never a chat id, a username, a token or a key.
import { Counter, Gauge, Histogram, Registry } from "prom-client"

export interface BotMetrics {
  readonly registry: Registry
  /** One per update the bot finished, by what came of it ("status", "not_linked", "error"…). */
  update(outcome: string): void
  /** One NPS API call: its endpoint, its HTTP status (or "unreachable") and how long it took. */
  apiCall(endpoint: string, status: number | "unreachable", seconds: number): void
  /** A Bot API call Telegram refused or that never got an answer. */
  telegramError(method: string, code: number | "network"): void
  /** A message over the per-chat limit; `replied` when it got the one "Slow down". */
  rateLimited(replied: boolean): void
  /** One notification delivery settled by this bot: sent, retry, failed (with why) or handed back. */
  delivery(outcome: string, error?: string): void
  /** Where the gauges read their values when scraped (the bot, once it is built). */
  track(sources: GaugeSources): void
  /** Whether notifications go with allow_paid_broadcast now (broadcast.ts). */
  trackPaidBroadcast(paid: () => boolean): void
  /** Telegram refused a send with allow_paid_broadcast. */
  paidBroadcastRefused(): void
}

export interface GaugeSources {
  /** Updates queued or running. */
  pending(): number
  /** When getUpdates last succeeded (ms since epoch). */
  lastPollAt(): number | undefined
  /** Messages waiting for their turn in the outbound budget. */
  outboundWaiting(): number
}

export function createBotMetrics(): BotMetrics {
  let sources: GaugeSources | undefined
  let paidBroadcast: (() => boolean) | undefined
  const registry = new Registry()
  const registers = [registry]
  const updates = new Counter({
    name: "nps_bot_updates_total",
    help: "Updates the bot finished handling, by outcome",
    labelNames: ["outcome"] as const,
    registers,
  })
  const apiCalls = new Histogram({
    name: "nps_bot_api_request_duration_seconds",
    help: "NPS API calls made by the bot, by endpoint and HTTP status (unreachable: no answer)",
    labelNames: ["endpoint", "status"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  })
  const telegramErrors = new Counter({
    name: "nps_bot_telegram_errors_total",
    help: "Bot API calls that failed, by method and Telegram error code (network: no answer)",
    labelNames: ["method", "code"] as const,
    registers,
  })
  const rateLimited = new Counter({
    name: "nps_bot_rate_limited_messages_total",
    help: 'Messages over the per-chat rate limit (replied="true": the one "Slow down" reply)',
    labelNames: ["replied"] as const,
    registers,
  })
  const deliveries = new Counter({
    name: "nps_bot_deliveries_total",
    help: "Notification deliveries settled by this bot, by outcome (sent, retry, failed, handed_back) and, when failed, why",
    labelNames: ["outcome", "error"] as const,
    registers,
  })
  const paidRefusals = new Counter({
    name: "nps_bot_paid_broadcast_refusals_total",
    help: "Sends with allow_paid_broadcast that Telegram refused (Stars balance too low, paid broadcast not enabled); the first switches the bot to free sending",
    registers,
  })
  new Gauge({
    name: "nps_bot_paid_broadcast",
    help: "1 while notifications go with allow_paid_broadcast (TELEGRAM_PAID_BROADCAST=true and Telegram has not refused it), else 0",
    registers,
    collect() {
      this.set(paidBroadcast?.() ? 1 : 0)
    },
  })
  new Gauge({
    name: "nps_bot_outbound_waiting",
    help: "Messages (replies and deliveries) waiting for their turn within Telegram's limits",
    registers,
    collect() {
      this.set(sources?.outboundWaiting() ?? 0)
    },
  })
  new Gauge({
    name: "nps_bot_pending_updates",
    help: "Updates queued or being handled",
    registers,
    collect() {
      this.set(sources?.pending() ?? 0)
    },
  })
  new Gauge({
    name: "nps_bot_last_poll_success_timestamp_seconds",
    help: "When getUpdates last succeeded (0: not yet)",
    registers,
    collect() {
      this.set((sources?.lastPollAt() ?? 0) / 1000)
    },
  })
  new Gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory size in bytes",
    registers,
    collect() {
      this.set(process.memoryUsage.rss())
    },
  })

  return {
    registry,
    update: (outcome) => updates.inc({ outcome }),
    apiCall: (endpoint, status, seconds) =>
      apiCalls.observe({ endpoint, status: String(status) }, seconds),
    telegramError: (method, code) => telegramErrors.inc({ method, code: String(code) }),
    rateLimited: (replied) => rateLimited.inc({ replied: String(replied) }),
    delivery: (outcome, error = "") => deliveries.inc({ outcome, error }),
    track: (given) => {
      sources = given
    },
    trackPaidBroadcast: (paid) => {
      paidBroadcast = paid
    },
    paidBroadcastRefused: () => paidRefusals.inc(),
  }
}

export interface MetricsServer {
  readonly port: number
  stop(): Promise<void>
}

/** A port someone else holds: named, so the operator knows which one to change. */
export class PortInUseError extends Error {
  override name = "PortInUseError"
}

/** Serves GET /metrics (Prometheus text format) on `port`; everything else is 404. */
export function serveMetrics(
  registry: Registry,
  { port, hostname = "0.0.0.0" }: { port: number; hostname?: string },
): MetricsServer {
  let server: ReturnType<typeof Bun.serve>
  try {
    server = Bun.serve({
      hostname,
      port,
      fetch: async (request) => {
        const { pathname } = new URL(request.url)
        if (pathname !== "/metrics") return new Response("Not Found\n", { status: 404 })
        if (request.method !== "GET" && request.method !== "HEAD")
          return new Response("Method Not Allowed\n", { status: 405, headers: { allow: "GET" } })
        return new Response(await registry.metrics(), {
          headers: { "content-type": registry.contentType },
        })
      },
    })
  } catch (error) {
    if ((error as { code?: unknown }).code === "EADDRINUSE")
      throw new PortInUseError(
        `METRICS_PORT ${port} is already in use: stop whatever listens there, or set METRICS_PORT to a free port`,
      )
    throw error
  }
  return {
    port: server.port as number,
    stop: () => server.stop(true),
  }
}
