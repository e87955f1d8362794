// `bun run db:migrate` / `bun run db:rollback`: one JSON log line per outcome, exit 1 on failure.
// --help, and any mistake in the command line, is answered before the database is opened.

import { createDb, type DbTarget, migrate, rollback } from "@nps/db"
import { createLogger, urlSecrets } from "@nps/log"
import { type CommandSpec, didYouMean, helpText, parseCommand, UsageError } from "./cli"
import { databaseConfigProblem } from "./errors"

const WHERE = `Uses DATABASE_URL, or embedded PGlite in PGLITE_DIR (default ./.data/pglite); while the
API holds that directory, through the socket it serves beside it.`

const COMMANDS = {
  migrate: {
    usage: "bun run db:migrate",
    description: `Apply every pending migration (db/drizzle) in one transaction under a Postgres advisory
lock, then exit. Safe to run again: nothing pending, nothing done.\n\n${WHERE}`,
    options: {},
  },
  rollback: {
    usage: "bun run db:rollback",
    description: `Undo the latest applied migration with its rollback SQL (db/rollback/<tag>.sql), then
exit. Run it once per migration to undo; back up first.\n\n${WHERE}`,
    options: {},
  },
} satisfies Record<string, CommandSpec>

const OVERVIEW = `Usage: bun api/src/db-cli.ts <command> [--help]

Commands:
  migrate    apply pending migrations (bun run db:migrate)
  rollback   undo the latest applied migration (bun run db:rollback)

${WHERE}`

type Command = keyof typeof COMMANDS

/** What the command line asks for: a text to print, or a command to run. */
function read(argv: string[]): { print: string } | { run: Command } {
  const [name, ...args] = argv
  if (name === undefined) throw new UsageError("no command given")
  if (name === "--help" || name === "-h") return { print: OVERVIEW }
  if (!Object.hasOwn(COMMANDS, name))
    throw new UsageError(`unknown command ${name}${didYouMean(name, Object.keys(COMMANDS))}`)
  const command = name as Command
  if (parseCommand(args, COMMANDS[command]) === "help")
    return { print: helpText(COMMANDS[command]) }
  return { run: command }
}

const argv = process.argv.slice(2)
let command: Command | undefined
try {
  const wanted = read(argv)
  if ("print" in wanted) console.log(wanted.print)
  else command = wanted.run
} catch (error) {
  if (!(error instanceof UsageError)) throw error
  const known = argv[0] !== undefined && Object.hasOwn(COMMANDS, argv[0])
  console.error(
    `db: ${error.message}\n${known ? `Run bun run db:${argv[0]} --help for usage.` : OVERVIEW}`,
  )
  process.exit(1)
}

if (command) {
  const log = createLogger({
    service: "db",
    level: process.env.LOG_LEVEL,
    secrets: urlSecrets(process.env.DATABASE_URL),
  })
  const target: DbTarget = process.env.DATABASE_URL
    ? { url: process.env.DATABASE_URL, max: 1 }
    : { pgliteDir: process.env.PGLITE_DIR || "./.data/pglite" }
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
    // Refused credentials (compose: POSTGRES_PASSWORD changed after the first start) in words.
    const problem = databaseConfigProblem(error)
    if (problem) log.error(`${command} failed: ${problem}`, { variable: "DATABASE_URL" })
    else log.error(`${command} failed`, { error })
    process.exit(1)
  }
}
