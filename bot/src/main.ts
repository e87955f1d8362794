// The bot's composition root and its only file with side effects: read the environment, build
// the logger, API client and bot, poll, and stop cleanly on SIGTERM/SIGINT.
import { createLogger, describeError } from "@nps/log"
import { ConfigError, loadConfig } from "./config"

const env = process.env
const bootLogger = createLogger({
  service: "bot",
  level: env.LOG_LEVEL,
  secrets: [env.NPS_BOT_TOKEN, env.TELEGRAM_BOT_SERVICE_KEY],
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
  secrets: [config.token, config.serviceKey],
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
const { createBot, TokenRejectedError } = await import("./bot")

const api = createApiClient({ baseUrl: config.apiUrl, serviceKey: config.serviceKey, logger })
// Notifications are delivered by whoever holds the service key: the API leases them to it alone.
const nps = createBot({
  config,
  api,
  logger,
  drainTimeoutMs: 5_000,
  deliveries: Boolean(config.serviceKey),
})

// `bun --hot` (dev:bot) runs this file again in the same process on every edit. The previous bot
// must stop polling before this one starts, or the two fight over getUpdates (409); process-wide
// handlers are installed once and always act on the current bot.
const slot = globalThis as typeof globalThis & {
  __npsBot?: { stop(): Promise<void> }
  __npsBotHandlers?: true
}
if (slot.__npsBot) {
  logger.info("hot reload: stopping the previous bot")
  await slot.__npsBot.stop()
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
  else logger.error("bot failed to start", { error: describeError(error) })
  process.exit(1)
}
