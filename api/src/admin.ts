// `bun run admin <command> [--json]`: user and key management straight against the database.
// With --json exactly one JSON object goes to stdout; errors go to stderr with exit 1.
import { parseArgs } from "node:util"
import { createDb, type Database, type Db } from "@nps/db"
import { generateApiKey, SCOPES, type Scope } from "./credentials"
import { ApiError } from "./errors"
import { createUser, deactivateUser, findUser, type Role } from "./modules/auth/service"
import { createKey, revokeKey } from "./modules/keys/service"
import { notifyFromCli } from "./modules/notifications/cli"

const USAGE = `usage: bun run admin <command> [options] [--json]

  create-user --username U --password P [--role user|admin]
  create-key --username U --name N [--scopes a,b] [--expires-days D]
  revoke-key --id ID
  deactivate-user --username U
  notify --username U --text T   send T to U's linked Telegram chats (the bot delivers it)
  gen-key        print a fresh random nps_ key (for TELEGRAM_BOT_SERVICE_KEY); touches no database

Scopes: ${SCOPES.join(", ")}. Uses DATABASE_URL, or embedded PGlite in PGLITE_DIR.`

class UsageError extends Error {}

type Options = Record<string, string | boolean | undefined>

function need(options: Options, name: string): string {
  const value = options[name]
  if (typeof value !== "string" || value === "") throw new UsageError(`--${name} is required`)
  return value
}

function parseScopes(value: string | undefined): Scope[] | undefined {
  if (value === undefined) return undefined
  const scopes = value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
  const bad = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s))
  if (bad.length)
    throw new UsageError(`unknown scope(s): ${bad.join(", ")} (valid: ${SCOPES.join(", ")})`)
  return scopes as Scope[]
}

type Output = { json: object; text: string }

// Each command checks its arguments before asking for the database, so usage errors are instant.
const commands: Record<string, (db: () => Promise<Db>, o: Options) => Promise<Output>> = {
  async "create-user"(db, o) {
    const role = (o.role ?? "user") as string
    if (role !== "user" && role !== "admin") throw new UsageError("--role must be user or admin")
    const input = {
      username: need(o, "username"),
      password: need(o, "password"),
      role: role as Role,
    }
    const user = await createUser(await db(), input)
    return { json: user, text: `created ${user.role} ${user.username} (${user.id})` }
  },
  async "create-key"(db, o) {
    const username = need(o, "username")
    const name = need(o, "name")
    const scopes = parseScopes(o.scopes as string | undefined)
    const days = o["expires-days"] === undefined ? undefined : Number(o["expires-days"])
    if (days !== undefined && !(Number.isInteger(days) && days > 0))
      throw new UsageError("--expires-days must be a positive whole number")
    const conn = await db()
    const user = await findUser(conn, username)
    if (!user) throw new UsageError(`no user named ${username}`)
    const key = await createKey(conn, { userId: user.id, name, scopes, expiresDays: days })
    return {
      json: key,
      text: `API key for ${username} (id ${key.id}, scopes ${key.scopes.join(",") || "none"}):\n${key.key}\nStore it now: it cannot be shown again.`,
    }
  },
  async "revoke-key"(db, o) {
    const id = need(o, "id")
    if (!/^[0-9a-f-]{36}$/i.test(id)) throw new UsageError("--id must be a key id (uuid)")
    const key = await revokeKey(await db(), id)
    return { json: key, text: `revoked key ${key.id}` }
  },
  async notify(db, o) {
    const input = { username: need(o, "username"), text: need(o, "text") }
    return notifyFromCli(db, input, (message) => new UsageError(message))
  },
  async "deactivate-user"(db, o) {
    const username = need(o, "username")
    const user = await deactivateUser(await db(), username)
    return { json: { id: user.id, is_active: false }, text: `deactivated user ${user.id}` }
  },
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
      username: { type: "string" },
      password: { type: "string" },
      role: { type: "string" },
      name: { type: "string" },
      scopes: { type: "string" },
      "expires-days": { type: "string" },
      id: { type: "string" },
      text: { type: "string" },
    },
  })
  const [command] = positionals
  if (values.help || !command) {
    console.log(USAGE)
    return values.help ? 0 : 1
  }
  if (command === "gen-key") {
    const key = generateApiKey()
    console.log(values.json ? JSON.stringify({ key }) : key)
    return 0
  }
  const run = commands[command]
  if (!run) throw new UsageError(`unknown command ${command}\n\n${USAGE}`)
  let database: Database | undefined
  const db = async () => {
    database ??= await createDb(
      process.env.DATABASE_URL
        ? { url: process.env.DATABASE_URL, max: 1 }
        : { pgliteDir: process.env.PGLITE_DIR || "./.data/pglite" },
    )
    return database.db
  }
  try {
    const out = await run(db, values)
    console.log(values.json ? JSON.stringify(out.json) : out.text)
    return 0
  } finally {
    await database?.close()
  }
}

try {
  process.exitCode = await main(process.argv.slice(2))
} catch (error) {
  // Known failures print their message; anything else only its kind (it may quote a secret).
  const message =
    error instanceof UsageError ||
    error instanceof ApiError ||
    (error instanceof Error && error.name === "DatabaseLockedError")
      ? error.message
      : error instanceof TypeError &&
          "code" in error &&
          String(error.code).startsWith("ERR_PARSE_ARGS")
        ? error.message
        : `unexpected ${error instanceof Error ? error.name : "error"}; is the database reachable and migrated?`
  console.error(`admin: ${message}`)
  process.exitCode = 1
}
