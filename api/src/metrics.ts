// Prometheus metrics for GET /metrics. One registry per app (tests build many apps; prom-client's
// global default registry would mix them). Labels are route templates, methods, statuses and
// fixed words — never a raw path (it holds chat ids), a header or anything a client chose.
import type { QueryStats } from "@nps/db"
import { Counter, Gauge, Histogram, Registry } from "prom-client"

export type DbErrorKind = "unavailable" | "conflict" | "other"

export interface Metrics {
  registry: Registry
  /** `route` is the matched template (`/api/telegram/status/:chat_id`), or "unmatched". */
  observeRequest(method: string, route: string, status: number, seconds: number): void
  dbError(kind: DbErrorKind): void
}

// Known methods only: a client can send any token as a method.
const METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])

export function createMetrics(
  dbStats?: () => QueryStats,
  /** Lease requests (bots) waiting for deliveries right now. */
  leasesWaiting?: () => number,
): Metrics {
  const registry = new Registry()
  const requests = new Counter({
    name: "nps_http_requests_total",
    help: "HTTP requests answered, by method, route template and status",
    labelNames: ["method", "route", "status"] as const,
    registers: [registry],
  })
  const duration = new Histogram({
    name: "nps_http_request_duration_seconds",
    help: "Time to answer an HTTP request, by method and route template",
    labelNames: ["method", "route"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  })
  const dbErrors = new Counter({
    name: "nps_db_errors_total",
    help: "Requests failed by the database: unavailable (unreachable, timed out), conflict (a lost race), other",
    labelNames: ["kind"] as const,
    registers: [registry],
  })
  if (dbStats) {
    new Gauge({
      name: "nps_db_queries_in_flight",
      help: "Queries a request is waiting for: running, or queued for a pooled connection",
      registers: [registry],
      collect() {
        this.set(dbStats().inFlight)
      },
    })
    new Counter({
      name: "nps_db_query_timeouts_total",
      help: "Queries given up at the per-query deadline (the database did not answer in time)",
      registers: [registry],
      collect() {
        this.reset()
        this.inc(dbStats().timedOut)
      },
    })
  }
  if (leasesWaiting)
    new Gauge({
      name: "nps_delivery_leases_waiting",
      help: "Bot lease requests waiting for deliveries to become due (long polls open)",
      registers: [registry],
      collect() {
        this.set(leasesWaiting())
      },
    })
  return {
    registry,
    observeRequest(method, route, status, seconds) {
      const m = METHODS.has(method) ? method : "OTHER"
      requests.inc({ method: m, route, status })
      duration.observe({ method: m, route }, seconds)
    },
    dbError: (kind) => dbErrors.inc({ kind }),
  }
}
