import type { Db, Listen, QueryStats } from "@nps/db"
import type { Logger } from "@nps/log"
import type { SharedRedis } from "@nps/redis"
import { Elysia } from "elysia"
import { type BackgroundOptions, createBackground } from "./background"
import { refuseIllFormedText, refuseMalformedJson } from "./body-checks"
import type { Config } from "./config"
import { DEFAULT_LIMITS, type Deps, type Limits } from "./context"
import { createJwt } from "./credentials"
import { docs } from "./docs"
import { describeForLog, isDatabaseError, isUniqueViolation, toErrorReply } from "./errors"
import { createMetrics } from "./metrics"
import { authRoutes } from "./modules/auth"
import { healthRoutes } from "./modules/health"
import { keyRoutes } from "./modules/keys"
import { createKeyVerifier } from "./modules/keys/service"
import { notificationRoutes } from "./modules/notifications"
import { BATCH_PATH, batchRoutes, MAX_BATCH_BODY_BYTES } from "./modules/notifications/batch"
import { DELIVERIES_CHANNEL } from "./modules/notifications/service"
import { createWakeup } from "./modules/notifications/wakeup"
import { oracleRoutes } from "./modules/oracle"
import { preferenceRoutes } from "./modules/preferences"
import { telegramRoutes } from "./modules/telegram"
import { webhookRoutes } from "./modules/webhooks"
import { createRateLimiter, type RateLimit } from "./rate-limit"
import { createSharedRateLimiter, type Limiter } from "./shared-rate-limit"
import { checkRequestSize } from "./transport"

export interface AppOptions {
  db: Db
  config: Config
  logger: Logger
  now?: () => Date
  limits?: Partial<Limits>
  /** The pool's query counters (Postgres with a query deadline), exported as metrics. */
  dbStats?: () => QueryStats
  /** Shared state (REDIS_URL): brute-force limits counted across every replica. */
  redis?: SharedRedis
  /** LISTEN on the database (Database.listen): waiting leases hear of other replicas' work. */
  listen?: Listen
  deliveries?: Partial<{ leaseMs: number; recheckMs: number }>
  /** Aborted when the server is stopping: waiting leases answer at once, so it can stop. */
  stopping?: AbortSignal
  /** Status webhooks and the sweeper (link tokens, retention): resolver, fetch, timings. */
  background?: BackgroundOptions
}

/** A bot that dies holding a lease has its deliveries leased again after this. */
const LEASE_MS = 60_000
/** A waiting lease re-checks this often even without a NOTIFY (lost while reconnecting). */
const RECHECK_MS = 5_000

const requestId = (header: string | null) =>
  header && /^[\w.-]{1,64}$/.test(header) ? header : crypto.randomUUID()

// Polled every few seconds by orchestrators and Prometheus, or by the bot for deliveries (one
// long poll and a report per batch): logged at debug, not info.
const PROBES = new Set([
  "/api/health",
  "/metrics",
  "/api/telegram/deliveries/lease",
  "/api/telegram/deliveries/report",
])

/**
 * Logs a database outage once when it starts and once when it ends, instead of an error per
 * request while it lasts.
 */
function outageLog(logger: Logger) {
  let down = false
  return {
    failed(error: unknown) {
      if (down) return logger.debug("database still unavailable", { error: describeForLog(error) })
      down = true
      logger.error("database unavailable: answering 503 until it is back", {
        error: describeForLog(error),
      })
    },
    answered() {
      if (!down) return
      down = false
      logger.info("database available again")
    },
  }
}

export function createApp({
  db,
  config,
  logger,
  now = () => new Date(),
  limits,
  dbStats,
  redis,
  listen,
  deliveries,
  stopping,
  background: backgroundOptions,
}: AppOptions) {
  const limiter = (name: string, limit: RateLimit): Limiter => {
    const local = createRateLimiter(limit, () => now().getTime())
    return redis ? createSharedRateLimiter({ redis, name, limit, local }) : local
  }
  const jwt = createJwt(config.jwtSecret, now)
  const deps: Deps = { db, config, logger, now, jwt, limiter, keys: createKeyVerifier(db) }
  const allLimits = { ...DEFAULT_LIMITS, ...limits }
  const started = new WeakMap<Request, { id: string; at: number }>()
  const wakeup = createWakeup({ listen, channel: DELIVERIES_CHANNEL, logger, stopping })
  const metrics = createMetrics(dbStats, () => wakeup.waiting)
  const outage = outageLog(logger)
  const background = createBackground(
    { db, config, logger, now, registry: metrics.registry },
    backgroundOptions,
  )
  let routes: () => readonly { method: string; path: string; hooks: object }[] = () => []

  const app = new Elysia()
    // Background work (webhooks, sweeper) runs while the server does; tests use app.decorator.
    .decorate("background", background)
    .onStart(() => background.start())
    .onStop(() => void background.stop())
    // Docs first: public, and its document lists every route registered below.
    .use(docs(() => routes()))
    .onRequest(({ request, set }) => {
      const id = requestId(request.headers.get("x-request-id"))
      started.set(request, { id, at: performance.now() })
      set.headers["x-request-id"] = id
      const batch = request.method === "POST" && request.url.endsWith(BATCH_PATH)
      checkRequestSize(request.headers, batch ? MAX_BATCH_BODY_BYTES : undefined)
    })
    // After parsing, before validation: every route, with a body schema or without.
    .onTransform({ as: "global" }, async ({ body, request }) => {
      await refuseMalformedJson(request)
      refuseIllFormedText(body)
    })
    .onError({ as: "global" }, ({ code, error, path, request, set }) => {
      const reply = toErrorReply(code, error)
      if (reply.status === 503) {
        metrics.dbError("unavailable")
        outage.failed(error)
      } else if (reply.status === 409 && isUniqueViolation(error)) {
        metrics.dbError("conflict")
      } else if (reply.status >= 500) {
        if (isDatabaseError(error)) metrics.dbError("other")
        logger.error("request failed", {
          request_id: started.get(request)?.id,
          path,
          error: describeForLog(error),
        })
      }
      set.status = reply.status
      Object.assign(set.headers, reply.headers)
      return reply.body
    })
    .onAfterResponse({ as: "global" }, ({ path, request, set, route }) => {
      const start = started.get(request)
      const status = typeof set.status === "number" ? set.status : 200
      const seconds = start ? (performance.now() - start.at) / 1000 : 0
      // The template, never the raw path: that holds chat ids.
      metrics.observeRequest(request.method, route || "unmatched", status, seconds)
      if (status < 300 && path.startsWith("/api/")) outage.answered()
      logger[PROBES.has(path) ? "debug" : "info"]("request", {
        request_id: start?.id,
        method: request.method,
        // The path only (Elysia's, without the query string, parsed once per request).
        path,
        status,
        duration_ms: Math.round(seconds * 100_000) / 100,
      })
    })
    .get(
      "/metrics",
      async ({ set }) => {
        set.headers["content-type"] = metrics.registry.contentType
        return metrics.registry.metrics()
      },
      { detail: { hide: true } },
    )
    .group("/api", (api) =>
      api
        .use(healthRoutes(deps))
        .use(authRoutes(deps, allLimits))
        .use(keyRoutes(deps))
        .use(oracleRoutes(deps))
        .use(telegramRoutes(deps, allLimits))
        .use(preferenceRoutes(deps))
        .use(
          notificationRoutes(deps, {
            wakeup,
            leaseMs: deliveries?.leaseMs ?? LEASE_MS,
            recheckMs: deliveries?.recheckMs ?? RECHECK_MS,
          }),
        )
        .use(batchRoutes(deps, wakeup))
        .use(webhookRoutes(deps, background.policy)),
    )
  routes = () => app.routes
  return app
}

export type App = ReturnType<typeof createApp>
