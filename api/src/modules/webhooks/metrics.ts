// Counters for /metrics: what became of webhook attempts, and what retention deleted.
import { Counter, type Registry } from "prom-client"

export interface BackgroundMetrics {
  webhook(outcome: "sent" | "retried" | "given_up"): void
  deletedByRetention(count: number): void
}

export function createBackgroundMetrics(registry: Registry): BackgroundMetrics {
  const messages = new Counter({
    name: "nps_webhook_messages_total",
    help: "Status-webhook attempts by outcome: sent (2xx), retried (will be tried again), given_up (after the last retry)",
    labelNames: ["outcome"] as const,
    registers: [registry],
  })
  for (const outcome of ["sent", "retried", "given_up"]) messages.inc({ outcome }, 0)
  const deleted = new Counter({
    name: "nps_notifications_deleted_total",
    help: "Finished notifications deleted by retention (NOTIFICATION_RETENTION_DAYS)",
    registers: [registry],
  })
  return {
    webhook: (outcome) => messages.inc({ outcome }),
    deletedByRetention: (count) => deleted.inc(count),
  }
}
