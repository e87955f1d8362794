// The API's composition root: the only module with side effects.
import { createDb, type Database, migrate } from "@nps/db"
import { createLogger, urlSecrets } from "@nps/log"
import { createSharedRedis } from "@nps/redis"
import { sql } from "drizzle-orm"
import { createApp } from "./app"
import { ensureServiceKey } from "./bootstrap"
import { answerCommandLine, type CommandSpec } from "./cli"
import { ConfigError, loadConfig } from "./config"
import { databaseConfigProblem, describeForLog, isDatabaseUnavailable } from "./errors"
import { listen, PortInUseError } from "./transport"

const COMMAND: CommandSpec = {
  usage: "bun run start:api (or bun api/src/main.ts; bun run dev:api reloads on edits)",
  description: `The NPS API server. It takes no options: everything comes from the environment —
DATABASE_URL (unset: embedded PGlite in PGLITE_DIR, default ./.data/pglite), HOST/PORT (default
0.0.0.0:8000), NODE_ENV, JWT_SECRET (required in production), TELEGRAM_BOT_SERVICE_KEY,
TELEGRAM_BOT_USERNAME, REDIS_URL, NOTIFICATION_RETENTION_DAYS (default 30),
NOTIFY_WEBHOOKS_ALLOW_PRIVATE (default false), LOG_LEVEL. See docs/operating.md.`,
  options: {},
}
// --help is answered before anything is read, opened or bound.
answerCommandLine(COMMAND, "api", "bun run start:api --help")

const SHUTDOWN_BUDGET_MS = 8_000
// Per query, waiting for a pooled connection included: requests answer 503 well within 5 s
// while Postgres is unreachable or silent.
const QUERY_TIMEOUT_MS = 3_000
const SERVICE_KEY_RETRY_MS = 5_000

let config: ReturnType<typeof loadConfig>
try {
  config = loadConfig(process.env)
} catch (error) {
  if (!(error instanceof ConfigError)) throw error
  const log = createLogger({ service: "api" })
  for (const issue of error.issues) log.error(issue.message, { variable: issue.variable })
  process.exit(1)
}

// `bun --hot` re-runs this module in the same process: keep the one database handle (PGlite
// allows a single opener) and a made-up JWT secret (tokens survive an edit), replace only the
// server, and install the signal handlers once.
const hot = globalThis as {
  __npsDb?: Database
  __npsJwtSecret?: string
  __npsServer?: { stop(): Promise<void> }
  __npsSignals?: true
}
if (config.jwtSecretGenerated) {
  hot.__npsJwtSecret ??= config.jwtSecret
  config = { ...config, jwtSecret: hot.__npsJwtSecret }
}

const logger = createLogger({
  service: "api",
  level: config.logLevel,
  secrets: [
    config.jwtSecret,
    config.serviceKey,
    ...urlSecrets(config.databaseUrl),
    ...urlSecrets(config.redisUrl),
  ],
})
if (config.jwtSecretGenerated && !hot.__npsServer)
  logger.warn("JWT_SECRET not set: using a random per-process secret (tokens die with the process)")

let database: Database
try {
  database =
    hot.__npsDb ??
    (await createDb(
      config.databaseUrl
        ? { url: config.databaseUrl, queryTimeoutMs: QUERY_TIMEOUT_MS }
        : // Shared on a socket beside the directory: admin commands work while the API runs.
          { pgliteDir: config.pgliteDir, share: true },
    ))
  hot.__npsDb = database
  if (database.driver === "pglite") {
    // Embedded mode: nobody else may open the directory, so migrate here, before listening.
    const applied = await migrate(database.db)
    if (applied.length) logger.info("migrations applied", { applied })
  }
} catch (error) {
  failStartup(error)
}

/** Logs why the API cannot start — a sentence when the cause is known — and exits 1. */
function failStartup(error: unknown): never {
  const problem = databaseConfigProblem(error)
  if (problem) logger.error(`startup failed: ${problem}`, { variable: "DATABASE_URL" })
  else logger.error("startup failed", { error: describeForLog(error) })
  process.exit(1)
}

// Replicas: the login and link limits are counted in Redis; while it is unavailable, each
// process counts alone (see shared-rate-limit.ts).
const redis =
  config.redisUrl === undefined
    ? undefined
    : createSharedRedis({
        url: config.redisUrl,
        logger,
        fallback: "each replica applies the login and link limits on its own until it is back",
      })
// Aborted first when this server stops (shutdown, or a hot reload): waiting leases answer then.
const serverStopping = new AbortController()
const app = createApp({
  db: database.db,
  config,
  logger,
  dbStats: database.stats,
  listen: database.listen,
  redis,
  stopping: serverStopping.signal,
})
// Postgres may be down while we start: the health probe logs that once, and we serve 503s
// until it is back rather than exit (the API recovers by itself).
const reachable = (await app.handle(new Request("http://localhost/api/health"))).ok
if (!reachable) {
  // Down is worth waiting for; refused credentials or a missing database are not.
  await database.db.execute(sql`select 1`).catch((error) => {
    if (databaseConfigProblem(error)) failStartup(error)
  })
}

/** The bot's key, once the database answers; anything but unavailability stops the process. */
async function ensureServiceKeyEventually(key: string) {
  for (;;) {
    try {
      await ensureServiceKey(database.db, key)
      return logger.info("telegram service key ensured")
    } catch (error) {
      if (!isDatabaseUnavailable(error)) failStartup(error)
      await Bun.sleep(SERVICE_KEY_RETRY_MS)
    }
  }
}
if (config.serviceKey) {
  if (reachable) await ensureServiceKeyEventually(config.serviceKey)
  else void ensureServiceKeyEventually(config.serviceKey)
}

await hot.__npsServer?.stop()
try {
  listen(app, { hostname: config.host, port: config.port })
} catch (error) {
  if (!(error instanceof PortInUseError)) throw error
  logger.error(`port ${error.port} is already in use`, {
    port: error.port,
    hint: "stop the process using it, or choose another port with PORT",
  })
  await database.close()
  delete hot.__npsDb
  process.exit(1)
}
hot.__npsServer = {
  stop: async () => {
    serverStopping.abort()
    await app.stop()
    // The webhook sender (in-flight POSTs are handed back) and the sweeper (expired link tokens,
    // retention): a run in progress ends after its current batch.
    await app.decorator.background.stop()
    redis?.close()
  },
}
logger.info("api listening", {
  url: `http://${config.host}:${app.server?.port}/api`,
  docs: `http://${config.host}:${app.server?.port}/swagger`,
  database: database.driver,
})

let stopping = false
async function shutdown(signal: string) {
  if (stopping) return
  stopping = true
  logger.info("shutting down", { signal })
  const force = setTimeout(() => {
    logger.error("shutdown budget exceeded; exiting")
    process.exit(1)
  }, SHUTDOWN_BUDGET_MS)
  try {
    await hot.__npsServer?.stop() // stops accepting, lets in-flight requests finish
    await hot.__npsDb?.close()
    logger.info("stopped")
  } catch (error) {
    logger.error("shutdown failed", { error })
  } finally {
    clearTimeout(force)
  }
  process.exit(0)
}
if (!hot.__npsSignals) {
  hot.__npsSignals = true
  process.once("SIGTERM", () => void shutdown("SIGTERM"))
  process.once("SIGINT", () => void shutdown("SIGINT"))
}
