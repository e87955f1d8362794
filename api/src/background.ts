// The API's background work for issue 19: the status-webhook sender and the retention sweep.
// Started and stopped with the server (createApp's onStart/onStop); tests drive them directly.
import type { Db } from "@nps/db"
import type { Logger } from "@nps/log"
import type { Registry } from "prom-client"
import type { Config } from "./config"
import { createBackgroundMetrics } from "./modules/webhooks/metrics"
import { createWebhookSender } from "./modules/webhooks/sender"
import { type Resolver, systemResolver, type UrlPolicy } from "./modules/webhooks/ssrf"
import { createRetention } from "./retention"

export interface BackgroundOptions {
  /** DNS for webhook URLs (tests: a resolver that never asks the network). */
  resolve?: Resolver
  fetch?: typeof fetch
  /** Delays before each retry of a failed webhook attempt. */
  retryScheduleMs?: readonly number[]
  webhookPollMs?: number
  webhookLeaseMs?: number
  retentionIntervalMs?: number
  retentionBatch?: number
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
  const retention = createRetention({
    db,
    logger,
    now,
    days: config.retentionDays,
    onDeleted: metrics.deletedByRetention,
    ...(options.retentionIntervalMs && { intervalMs: options.retentionIntervalMs }),
    ...(options.retentionBatch && { batch: options.retentionBatch }),
  })
  return {
    policy,
    webhooks,
    retention,
    start() {
      webhooks.start()
      retention.start()
    },
    async stop() {
      await Promise.all([webhooks.stop(), retention.stop()])
    },
  }
}

export type Background = ReturnType<typeof createBackground>
