// The bot's composition root and its only file with side effects: read the environment, build
// the logger, API client and bot, poll, and stop cleanly on SIGTERM/SIGINT.
import { parseArgs } from "node:util"
import { createLogger, describeError, urlSecrets } from "@nps/log"
import { createSharedRedis } from "@nps/redis"
import { ConfigError, loadConfig, USAGE } from "./config"

// --help (and any argument, which the bot does not take) is answered before anything else runs.
try {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { help: { type: "boolean", short: "h" } },
    strict: true,
  })
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
} catch (error) {
  // In the words every other command line uses (`unknown option --x`), not node:util's.
  const text = error instanceof Error ? (error.message.split("\n")[0] ?? "") : String(error)
  const quoted = /'([^']*)'/.exec(text)?.[1]
  const message = {
    ERR_PARSE_ARGS_UNKNOWN_OPTION: `unknown option ${quoted}`,
    ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL: "unexpected argument: the bot takes no arguments",
  }[String((error as { code?: unknown }).code)]
  console.error(`bot: ${message ?? text}\nRun bun run start:bot --help for usage.`)
  process.exit(1)
}

const env = process.env
const bootLogger = createLogger({
  service: "bot",
  level: env.LOG_LEVEL,
  secrets: [
    env.NPS_BOT_TOKEN,
    env.TELEGRAM_BOT_SERVICE_KEY,
    env.WEBHOOK_SECRET,
    ...urlSecrets(env.REDIS_URL),
  ],
})

// GramIO's debug namespaces print request and response bodies (the token's URL, /link texts with
// API keys). The `debug` package reads DEBUG when first imported, so clear it before GramIO loads.
if (env.DEBUG) {
  bootLogger.warn("DEBUG is ignored by the bot: its GramIO output would contain secrets")
  delete env.DEBUG
}

let config: ReturnType<typeof loadConfig>
try {
  config = loadConfig(env)
} catch (error) {
  if (!(error instanceof ConfigError)) throw error
  for (const issue of error.issues) bootLogger.error(issue.message, { variable: issue.variable })
  process.exit(1)
}

const logger = createLogger({
  service: "bot",
  level: config.logLevel,
  secrets: [
    config.token,
    config.serviceKey,
    config.webhook?.secret,
    ...urlSecrets(config.redisUrl),
  ],
})
if (!config.serviceKey)
  logger.warn(
    "TELEGRAM_BOT_SERVICE_KEY not set: linking, /status, /profile and /unlink cannot work",
    {
      variable: "TELEGRAM_BOT_SERVICE_KEY",
    },
  )

// Imported only now, after DEBUG is gone (see above).
const { createApiClient } = await import("./api-client")
const { ALLOWED_UPDATES, createBot, TokenRejectedError } = await import("./bot")
const { createBroadcastMode } = await import("./outbound/broadcast")
const { createBotMetrics, PortInUseError, serveMetrics } = await import("./metrics")
const { createPacer } = await import("./outbound/pacer")
const { createSharedBudgetStore } = await import("./outbound/shared-pacing")
const { createSharedChatLimiter } = await import("./inbound/shared-rate-limit")
const { createMemoryLedger, createSharedLedger } = await import("./inbound/update-ledger")
const { createWebhookReceiver, WebhookPortInUseError, WebhookRejectedError } = await import(
  "./inbound/webhook"
)

const metrics = config.metricsPort === undefined ? undefined : createBotMetrics()
const api = createApiClient({
  baseUrl: config.apiUrl,
  serviceKey: config.serviceKey,
  logger,
  metrics,
})
// Replicas (REDIS_URL): the per-chat limit, webhook de-duplication and the outbound budget live in
// Redis, keyed by the bot's id (the token's public half). Without it each process keeps them in
// its own memory; while Redis is unavailable each replica does so too, sending at its share of
// Telegram's limits (shared-pacing.ts).
const botId = config.token.split(":")[0] ?? "bot"
const redis = config.redisUrl
  ? createSharedRedis({
      url: config.redisUrl,
      logger,
      fallback:
        "each replica applies the rate limit, de-duplicates updates and paces its sends on its own until it is back",
    })
  : undefined
const budget = redis && createSharedBudgetStore({ redis, botId, logger })
if (config.mode === "webhook" && !redis)
  logger.warn(
    "BOT_MODE=webhook without REDIS_URL: rate limit, de-duplication and outbound pacing are this process's own; run one replica, or set REDIS_URL",
    { variable: "REDIS_URL" },
  )

// Notifications' pace: TELEGRAM_BROADCAST_RATE a second, paid above Telegram's free 30 when
// TELEGRAM_PAID_BROADCAST=true, free again if Telegram refuses to bill the bot (broadcast.ts).
const broadcast = createBroadcastMode({
  paid: config.paidBroadcast,
  rate: config.broadcastRate,
  logger,
})

// Stopping: 4 s for updates in flight, 2 s more to answer those stuck on the API, 2 s at most to
// tell Telegram what was handled — inside the 9 s deadline below and the contract's 10 s.
const bot = createBot({
  config,
  api,
  logger,
  drainTimeoutMs: 4_000,
  drainGraceMs: 2_000,
  metrics,
  mode: config.mode,
  limiter: redis && createSharedChatLimiter({ redis, botId, limit: config.rateLimit }),
  broadcast,
  pacer: createPacer({ store: budget, limits: () => broadcast.limits }),
  // Notifications are delivered by whoever holds the service key: the API leases them to it alone.
  deliveries: Boolean(config.serviceKey),
})

// `bun --hot` (dev:bot) runs this file again in the same process on every edit. The previous bot
// must stop before this one binds or polls: the two would fight over getUpdates (409), and under
// --hot a second Bun.serve on WEBHOOK_PORT is the same server, which the old stop would close.
// Process-wide handlers are installed once and always act on the current bot.
const slot = globalThis as typeof globalThis & {
  __npsBot?: { stop(): Promise<void> }
  __npsBotHandlers?: true
}
if (slot.__npsBot) {
  logger.info("hot reload: stopping the previous bot")
  await slot.__npsBot.stop()
}

// Webhook mode: the port is bound now, so a taken WEBHOOK_PORT stops the bot before anything else.
const ledger =
  config.webhook && (redis ? createSharedLedger({ redis, botId }) : createMemoryLedger())
let receiver: ReturnType<typeof createWebhookReceiver> | undefined
if (config.webhook && ledger) {
  try {
    receiver = createWebhookReceiver({
      nps: bot,
      webhook: config.webhook,
      allowedUpdates: ALLOWED_UPDATES,
      ledger,
      logger,
      heartbeat: bot.heartbeat,
    })
  } catch (error) {
    if (!(error instanceof WebhookPortInUseError)) throw error
    logger.error(error.message, { variable: "WEBHOOK_PORT" })
    process.exit(1)
  }
}

let metricsServer: ReturnType<typeof serveMetrics> | undefined
if (metrics && config.metricsPort !== undefined) {
  try {
    metricsServer = serveMetrics(metrics.registry, { port: config.metricsPort })
  } catch (error) {
    if (!(error instanceof PortInUseError)) throw error
    logger.error(error.message, { variable: "METRICS_PORT" })
    process.exit(1)
  }
  logger.info("metrics listening", { url: `http://0.0.0.0:${metricsServer.port}/metrics` })
}
const nps = {
  start: async () => {
    await bot.start()
    await receiver?.start()
  },
  stop: async () => {
    // Webhook: the port closes at once (the load balancer sends updates to other replicas);
    // updates in flight finish, and those that cannot are given back to Telegram.
    receiver?.close()
    await bot.stop()
    await receiver?.finish()
    ledger?.close()
    await budget?.close()
    redis?.close()
    await metricsServer?.stop()
  },
}
slot.__npsBot = nps

// The contract allows 10 s from the signal to exit; stop() is bounded well inside that.
const SHUTDOWN_DEADLINE_MS = 9_000
let shuttingDown = false
const shutdown = (signal: string) => {
  if (shuttingDown) return
  shuttingDown = true
  logger.info("shutting down", { signal })
  setTimeout(() => {
    logger.error("shutdown deadline passed; exiting with updates unfinished")
    process.exit(1)
  }, SHUTDOWN_DEADLINE_MS).unref()
  const current = slot.__npsBot ?? nps
  current.stop().then(
    () => process.exit(0),
    (error) => {
      logger.error("shutdown failed", { error: describeError(error) })
      process.exit(1)
    },
  )
}
if (!slot.__npsBotHandlers) {
  slot.__npsBotHandlers = true
  process.on("SIGTERM", () => shutdown("SIGTERM"))
  process.on("SIGINT", () => shutdown("SIGINT"))
  // Last line of defence: log with the stack and keep serving other chats.
  process.on("unhandledRejection", (reason) =>
    logger.error("unhandled rejection", { error: describeError(reason) }),
  )
  process.on("uncaughtException", (error) =>
    logger.error("uncaught exception", { error: describeError(error) }),
  )
}

try {
  await nps.start()
} catch (error) {
  if (error instanceof TokenRejectedError)
    logger.error(error.message, { variable: "NPS_BOT_TOKEN" })
  else if (error instanceof WebhookRejectedError)
    logger.error(error.message, { variable: error.variable })
  else logger.error("bot failed to start", { error: describeError(error) })
  process.exit(1)
}
