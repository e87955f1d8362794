// A bot replica in webhook mode, in-process: the real bot, its webhook receiver on a port of its
// own, and — when given Redis — the shared rate limit and update ledger. Tests play Telegram (or
// the load balancer) by POSTing updates to `url` through the stand-in.
import type { Logger } from "@nps/log"
import type { SharedRedis } from "@nps/redis"
import type { BotApiStandIn } from "@nps/testing/stand-in"
import type { NpsApi } from "../src/api-client"
import { ALLOWED_UPDATES, type CreateBotOptions, createBot, type NpsBot } from "../src/bot"
import { createSharedChatLimiter } from "../src/inbound/shared-rate-limit"
import {
  createMemoryLedger,
  createSharedLedger,
  type UpdateLedger,
} from "../src/inbound/update-ledger"
import { createWebhookReceiver, type WebhookReceiver } from "../src/inbound/webhook"
import { createPacer } from "../src/outbound/pacer"
import { createSharedBudgetStore } from "../src/outbound/shared-pacing"
import { type CapturedLogs, captureLogs, NO_LIMITS } from "./harness"

export const WEBHOOK_SECRET = "test-webhook-secret_0123456789"

export interface Replica {
  nps: NpsBot
  receiver: WebhookReceiver
  ledger: UpdateLedger
  logs: CapturedLogs
  /** Where this replica takes updates: POST http://127.0.0.1:<port>/telegram/webhook */
  url: string
  /** GET /healthz */
  health: string
  /** Stops it as SIGTERM does: stop accepting, drain, give back what is unfinished. */
  stop(): Promise<void>
}

export interface ReplicaOptions {
  standIn: BotApiStandIn
  api: NpsApi
  /** Shared state; none: this replica's memory only. */
  redis?: (logger: Logger) => SharedRedis
  rateLimit?: number
  handleTimeoutMs?: number
  claimTtlMs?: number
  drainTimeoutMs?: number
  /** Leave start() to the test. */
  start?: boolean
  /**
   * Outbound limits: none (default; the inbound limit is under test), or Telegram's, in the
   * budget shared through `redis`.
   */
  pacing?: "none" | "shared"
  /** Deliver notifications (the API must be real). */
  deliveries?: CreateBotOptions["deliveries"]
  metrics?: CreateBotOptions["metrics"]
}

export async function startReplica(options: ReplicaOptions): Promise<Replica> {
  const { standIn, api, rateLimit = 20 } = options
  const logs = captureLogs([standIn.token, WEBHOOK_SECRET])
  const redis = options.redis?.(logs.logger)
  const botId = standIn.botInfo.id
  const budget =
    options.pacing === "shared" && redis
      ? createSharedBudgetStore({ redis, botId, logger: logs.logger })
      : undefined
  if (options.pacing === "shared" && !budget) throw new Error("shared pacing needs redis")
  const nps = createBot({
    config: {
      token: standIn.token,
      rateLimit,
      telegramApiRoot: standIn.url,
      heartbeatFile: undefined,
    },
    api,
    logger: logs.logger,
    info: standIn.botInfo,
    mode: "webhook",
    // Unless asked, the inbound limit is under test here, not Telegram's outbound one (NO_LIMITS).
    pacer: budget ? createPacer({ store: budget }) : createPacer({ limits: NO_LIMITS }),
    deliveries: options.deliveries,
    metrics: options.metrics,
    limiter: redis && createSharedChatLimiter({ redis, botId, limit: rateLimit }),
    drainTimeoutMs: options.drainTimeoutMs ?? 2_000,
    drainGraceMs: 500,
  })
  const ledger = redis
    ? createSharedLedger({ redis, botId, claimTtlMs: options.claimTtlMs })
    : createMemoryLedger()
  let port = 0
  const receiver = createWebhookReceiver({
    nps,
    webhook: {
      // The port is known only once bound; setWebhook reads the URL after that.
      get url() {
        return `http://127.0.0.1:${port}/telegram/webhook`
      },
      path: "/telegram/webhook",
      secret: WEBHOOK_SECRET,
      host: "127.0.0.1",
      port: 0,
    },
    allowedUpdates: ALLOWED_UPDATES,
    ledger,
    logger: logs.logger,
    handleTimeoutMs: options.handleTimeoutMs,
    heartbeat: nps.heartbeat,
  })
  port = receiver.port
  if (options.start !== false) {
    await nps.start()
    await receiver.start()
  }
  let stopped: Promise<void> | undefined
  return {
    nps,
    receiver,
    ledger,
    logs,
    url: `http://127.0.0.1:${port}/telegram/webhook`,
    health: `http://127.0.0.1:${port}/healthz`,
    stop: () => {
      stopped ??= (async () => {
        receiver.close()
        await nps.stop()
        await receiver.finish()
        ledger.close()
        await budget?.close()
        redis?.close()
      })()
      return stopped
    },
  }
}
