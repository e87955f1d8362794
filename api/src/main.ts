// The API's composition root: the only module with side effects.
import { createDb, type Database, migrate } from "@nps/db"
import { createLogger } from "@nps/log"
import { createApp } from "./app"
import { ensureServiceKey } from "./bootstrap"
import { ConfigError, loadConfig } from "./config"

const SHUTDOWN_BUDGET_MS = 8_000

let config: ReturnType<typeof loadConfig>
try {
  config = loadConfig(process.env)
} catch (error) {
  const problems = error instanceof ConfigError ? error.problems : [String(error)]
  const log = createLogger({ service: "api" })
  for (const problem of problems) log.error(`configuration error: ${problem}`)
  process.exit(1)
}

const logger = createLogger({
  service: "api",
  level: config.logLevel,
  secrets: [config.jwtSecret, config.serviceKey, config.databaseUrl],
})
if (config.jwtSecretGenerated)
  logger.warn("JWT_SECRET not set: using a random per-process secret (tokens die with the process)")

// `bun --hot` re-runs this module in the same process: keep the one database handle
// (PGlite allows a single opener) and replace only the server.
const hot = globalThis as { __npsDb?: Database; __npsServer?: { stop(force?: boolean): unknown } }

let database: Database
try {
  database =
    hot.__npsDb ??
    (await createDb(
      config.databaseUrl ? { url: config.databaseUrl } : { pgliteDir: config.pgliteDir },
    ))
  hot.__npsDb = database
  if (database.driver === "pglite") {
    // Embedded mode: nobody else may open the directory, so migrate here, before listening.
    const applied = await migrate(database.db)
    if (applied.length) logger.info("migrations applied", { applied })
  }
  if (config.serviceKey) {
    await ensureServiceKey(database.db, config.serviceKey)
    logger.info("telegram service key ensured")
  }
} catch (error) {
  logger.error("startup failed", { error })
  process.exit(1)
}

hot.__npsServer?.stop(true)
const app = createApp({ db: database.db, config, logger }).listen({
  hostname: config.host,
  port: config.port,
})
hot.__npsServer = app.server ?? undefined
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
    await app.stop() // stops accepting, lets in-flight requests finish
    await database.close()
    logger.info("stopped")
  } catch (error) {
    logger.error("shutdown failed", { error })
  } finally {
    clearTimeout(force)
  }
  process.exit(0)
}
process.once("SIGTERM", () => void shutdown("SIGTERM"))
process.once("SIGINT", () => void shutdown("SIGINT"))
