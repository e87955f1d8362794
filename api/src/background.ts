// The API's background work: the status-webhook sender, and the one sweeper deleting rows nobody
// needs any more (expired link tokens; finished notifications past retention). Started and
// stopped with the server (createApp's onStart/onStop); tests drive them directly.
import type { Db } from "@nps/db"
import type { Logger } from "@nps/log"
import type { Registry } from "prom-client"
import type { Config } from "./config"
import { SETTLE_EVERY_MS, settleSweep } from "./modules/notifications/settle-sweep"
import { linkTokenSweep } from "./modules/telegram/service"
import { createBackgroundMetrics } from "./modules/webhooks/metrics"
import { createWebhookSender } from "./modules/webhooks/sender"
import { type Resolver, systemResolver, type UrlPolicy } from "./modules/webhooks/ssrf"
import { notificationRetention } from "./retention"
import { createSweeper } from "./sweeper"

export interface BackgroundOptions {
  /** DNS for webhook URLs (tests: a resolver that never asks the network). */
  resolve?: Resolver
  fetch?: typeof fetch
  /** Delays before each retry of a failed webhook attempt. */
  retryScheduleMs?: readonly number[]
  webhookPollMs?: number
  webhookLeaseMs?: number
  /** Pause between sweeper runs (default a minute). */
  sweepEveryMs?: number
  /** Rows per sweep transaction (default 500). */
  sweepBatch?: number
  /** Pause between runs that settle expiry and send_at (default 2 s). */
  settleEveryMs?: number
}

export function createBackground(
  deps: { db: Db; config: Config; logger: Logger; now: () => Date; registry: Registry },
  options: BackgroundOptions = {},
) {
  const { db, config, logger, now } = deps
  const metrics = createBackgroundMetrics(deps.registry)
  const policy: UrlPolicy = {
    allowPrivate: config.webhooksAllowPrivate,
    resolve: options.resolve ?? systemResolver,
  }
  const webhooks = createWebhookSender({
    db,
    logger,
    now,
    policy,
    metrics,
    ...(options.fetch && { fetch: options.fetch }),
    ...(options.retryScheduleMs && { retryScheduleMs: options.retryScheduleMs }),
    ...(options.webhookPollMs && { pollMs: options.webhookPollMs }),
    ...(options.webhookLeaseMs && { leaseMs: options.webhookLeaseMs }),
  })
  const retention = notificationRetention({
    days: config.retentionDays,
    logger,
    onDeleted: metrics.deletedByRetention,
  })
  const sweeper = createSweeper({
    db,
    logger,
    now,
    sweeps: [linkTokenSweep, retention],
    ...(options.sweepEveryMs && { every: options.sweepEveryMs }),
    ...(options.sweepBatch && { batch: options.sweepBatch }),
  })
  // Expiry and send_at come due by the clock alone, bot or no bot (within the 5 s the contract allows).
  const settler = createSweeper({
    db,
    logger,
    now,
    sweeps: [settleSweep],
    every: options.settleEveryMs ?? SETTLE_EVERY_MS,
  })
  return {
    policy,
    webhooks,
    sweeper,
    settler,
    start() {
      webhooks.start()
      sweeper.start()
      settler.start()
    },
    async stop() {
      await Promise.all([webhooks.stop(), sweeper.stop(), settler.stop()])
    },
  }
}

export type Background = ReturnType<typeof createBackground>
