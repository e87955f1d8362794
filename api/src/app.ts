import { swagger } from "@elysiajs/swagger"
import type { Db } from "@nps/db"
import type { Logger } from "@nps/log"
import { Elysia } from "elysia"
import type { Config } from "./config"
import { DEFAULT_LIMITS, type Deps, type Limits } from "./context"
import { createJwt } from "./credentials"
import { ApiError, toErrorReply } from "./errors"
import { authRoutes } from "./modules/auth"
import { healthRoutes } from "./modules/health"
import { keyRoutes } from "./modules/keys"
import { createKeyVerifier } from "./modules/keys/service"
import { oracleRoutes } from "./modules/oracle"
import { telegramRoutes } from "./modules/telegram"

export interface AppOptions {
  db: Db
  config: Config
  logger: Logger
  now?: () => Date
  limits?: Partial<Limits>
}

export const MAX_BODY_BYTES = 64 * 1024

const requestId = (header: string | null) =>
  header && /^[\w.-]{1,64}$/.test(header) ? header : crypto.randomUUID()

export function createApp({ db, config, logger, now = () => new Date(), limits }: AppOptions) {
  const jwt = createJwt(config.jwtSecret, now)
  const deps: Deps = { db, config, logger, now, jwt, keys: createKeyVerifier(db) }
  const allLimits = { ...DEFAULT_LIMITS, ...limits }
  const started = new WeakMap<Request, { id: string; at: number }>()

  return (
    new Elysia({ serve: { maxRequestBodySize: MAX_BODY_BYTES } })
      // Swagger first and unguarded: the docs stay public.
      .use(
        swagger({
          path: "/swagger",
          documentation: {
            info: {
              title: "NPS API",
              version: "1.0.0",
              description: "Users, API keys, Oracle profiles and Telegram links",
            },
            components: {
              securitySchemes: {
                bearer: {
                  type: "http",
                  scheme: "bearer",
                  description: "A JWT from /api/auth/login or an nps_ API key",
                },
              },
            },
          },
        }),
      )
      .onRequest(({ request, set }) => {
        const id = requestId(request.headers.get("x-request-id"))
        started.set(request, { id, at: performance.now() })
        set.headers["x-request-id"] = id
        const length = Number(request.headers.get("content-length") ?? 0)
        if (length > MAX_BODY_BYTES)
          throw new ApiError(
            413,
            "payload_too_large",
            `Request bodies are limited to ${MAX_BODY_BYTES} bytes`,
          )
      })
      .onError({ as: "global" }, ({ code, error, path, request, set }) => {
        const reply = toErrorReply(code, error)
        if (reply.status >= 500) {
          logger.error("request failed", {
            request_id: started.get(request)?.id,
            path,
            error,
          })
        }
        set.status = reply.status
        Object.assign(set.headers, reply.headers)
        return reply.body
      })
      .onAfterResponse({ as: "global" }, ({ path, request, set }) => {
        const start = started.get(request)
        logger.info("request", {
          request_id: start?.id,
          method: request.method,
          // The path only (Elysia's, without the query string, parsed once per request).
          path,
          status: typeof set.status === "number" ? set.status : 200,
          duration_ms: start ? Math.round((performance.now() - start.at) * 100) / 100 : undefined,
        })
      })
      .group("/api", (api) =>
        api
          .use(healthRoutes(deps))
          .use(authRoutes(deps, allLimits))
          .use(keyRoutes(deps))
          .use(oracleRoutes(deps))
          .use(telegramRoutes(deps, allLimits)),
      )
  )
}

export type App = ReturnType<typeof createApp>
