// `bun run db:migrate` / `bun run db:rollback`: one JSON log line per outcome, exit 1 on failure.

import { createDb, type DbTarget, migrate, rollback } from "@nps/db"
import { createLogger } from "@nps/log"
import { databaseSecrets } from "./config"

const log = createLogger({
  service: "db",
  level: process.env.LOG_LEVEL,
  secrets: databaseSecrets(process.env.DATABASE_URL),
})
const command = process.argv[2]
const target: DbTarget = process.env.DATABASE_URL
  ? { url: process.env.DATABASE_URL, max: 1 }
  : { pgliteDir: process.env.PGLITE_DIR || "./.data/pglite" }

if (command !== "migrate" && command !== "rollback") {
  log.error("usage: api/src/db-cli.ts migrate|rollback")
  process.exit(1)
}
try {
  const { db, close } = await createDb(target)
  try {
    if (command === "migrate") {
      const tags = await migrate(db)
      log.info(tags.length ? "migrations applied" : "database is up to date", { applied: tags })
    } else {
      const tag = await rollback(db)
      log.info(tag ? "migration rolled back" : "nothing to roll back", { rolled_back: tag })
    }
  } finally {
    await close()
  }
} catch (error) {
  log.error(`${command} failed`, { error })
  process.exit(1)
}
