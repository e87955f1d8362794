// `bun run admin <command> [options]`: user and key management straight against the database.
// Every command declares its own options (cli.ts); --help and usage mistakes are answered before
// the database is opened. With --json exactly one JSON object goes to stdout; errors go to stderr
// with exit 1.
import { createDb, type Database, type Db, migrate, users } from "@nps/db"
import { asc } from "drizzle-orm"
import {
  type CommandSpec,
  didYouMean,
  helpText,
  type OptionSpec,
  parseCommand,
  UsageError,
  type Values,
} from "./cli"
import { generateApiKey, SCOPES, type Scope } from "./credentials"
import { ApiError } from "./errors"
import { createUser, deactivateUser, findUser, type Role } from "./modules/auth/service"
import { createKey, listKeys, revokeKey } from "./modules/keys/service"
import { NOTIFY_OPTIONS, notifyFromCli, notifyOptions } from "./modules/notifications/cli"
import { listWebhooksFromCli } from "./modules/webhooks/cli"
import { PromptCancelled, readPassword } from "./password-prompt"

const MIN_PASSWORD_LENGTH = 12
const MAX_PASSWORD_LENGTH = 1024

type Output = { json: object; text: string }

interface Context {
  /** Opens the database on first use (never for --help or a usage error). */
  db(): Promise<Db>
  stdin: () => Promise<string>
}

interface AdminCommand extends CommandSpec {
  summary: string
  run(ctx: Context, o: Values): Promise<Output>
}

const json = (prints: string): OptionSpec => ({
  type: "boolean",
  description: `print ${prints} instead of text`,
})

function need(o: Values, name: string, max = 100): string {
  const value = o[name]
  if (typeof value !== "string" || value.trim() === "")
    throw new UsageError(`--${name} is required`)
  if ([...value].length > max) throw new UsageError(`--${name} must be at most ${max} characters`)
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
  return [...new Set(scopes)] as Scope[]
}

function checkPassword(password: string): string {
  const length = [...password].length
  if (length < MIN_PASSWORD_LENGTH)
    throw new UsageError(
      `the password is too short: it needs at least ${MIN_PASSWORD_LENGTH} characters (a few words make a good one)`,
    )
  if (length > MAX_PASSWORD_LENGTH)
    throw new UsageError(`the password is too long: at most ${MAX_PASSWORD_LENGTH} characters`)
  return password
}

/** --password, --password-stdin, or a prompt without echo when a person is at the terminal. */
async function passwordFrom(ctx: Context, o: Values): Promise<string> {
  const given = typeof o.password === "string"
  if (given && o["password-stdin"])
    throw new UsageError("give the password with --password or --password-stdin, not both")
  if (given) return checkPassword(o.password as string)
  if (o["password-stdin"]) {
    // The first line; a trailing newline (echo, a file) is not part of the password.
    const line = (await ctx.stdin()).split(/\r?\n/)[0] ?? ""
    return checkPassword(line)
  }
  if (!process.stdin.isTTY)
    throw new UsageError(
      "a password is needed: type it at the prompt (run in a terminal), pipe it with --password-stdin, or pass --password",
    )
  const first = checkPassword(await readPassword("Password: "))
  if ((await readPassword("Repeat it: ")) !== first)
    throw new UsageError("the two passwords differ; nothing was created")
  return first
}

/** Rows as left-aligned columns under a header, for the text output of the list commands. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  return [header, ...rows]
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i] as number))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")
}

const COMMANDS: Record<string, AdminCommand> = {
  "create-user": {
    summary: "create a user (password from a prompt, --password-stdin or --password)",
    usage:
      "bun run admin create-user --username U [--password-stdin | --password P] [--role user|admin] [--json]",
    description: `Create a user. Without --password or --password-stdin the password is asked for at the
terminal and not shown. It needs at least ${MIN_PASSWORD_LENGTH} characters.`,
    options: {
      username: { type: "string", value: "U", description: "the new user's login name (required)" },
      password: {
        type: "string",
        value: "P",
        description: "the password (shows in shell history and process lists; prefer the prompt)",
      },
      "password-stdin": {
        type: "boolean",
        description: "read the password from the first line of standard input",
      },
      role: { type: "string", value: "user|admin", description: "the user's role (default user)" },
      json: json('{"id","username","role"}'),
    },
    async run(ctx, o) {
      const role = o.role ?? "user"
      if (role !== "user" && role !== "admin") throw new UsageError("--role must be user or admin")
      const username = need(o, "username")
      const password = await passwordFrom(ctx, o)
      const user = await createUser(await ctx.db(), { username, password, role: role as Role })
      return { json: user, text: `created ${user.role} ${user.username} (id ${user.id})` }
    },
  },
  "list-users": {
    summary: "list every user",
    usage: "bun run admin list-users [--json]",
    description: "List every user, oldest first.",
    options: {
      json: json('{"users":[{"id","username","role","is_active","created_at"}]}'),
    },
    async run(ctx) {
      const rows = await (await ctx.db())
        .select({
          id: users.id,
          username: users.username,
          role: users.role,
          isActive: users.isActive,
          createdAt: users.createdAt,
        })
        .from(users)
        .orderBy(asc(users.createdAt), asc(users.username))
      const list = rows.map((u) => ({
        id: u.id,
        username: u.username,
        role: u.role,
        is_active: u.isActive,
        created_at: u.createdAt.toISOString(),
      }))
      return {
        json: { users: list },
        text: list.length
          ? table(
              ["USERNAME", "ROLE", "ACTIVE", "CREATED", "ID"],
              list.map((u) => [
                u.username,
                u.role,
                u.is_active ? "yes" : "no",
                u.created_at.slice(0, 10),
                u.id,
              ]),
            )
          : "no users yet (bun run admin create-user --help)",
      }
    },
  },
  "deactivate-user": {
    summary: "deactivate a user (logins and keys stop working)",
    usage: "bun run admin deactivate-user --username U [--json]",
    description:
      "Deactivate a user: their logins, API keys and linked chats stop working. Nothing is deleted.",
    options: {
      username: { type: "string", value: "U", description: "the user (required)" },
      json: json('{"id","is_active":false}'),
    },
    async run(ctx, o) {
      const username = need(o, "username")
      const user = await deactivateUser(await ctx.db(), username)
      return { json: { id: user.id, is_active: false }, text: `deactivated user ${user.id}` }
    },
  },
  "create-key": {
    summary: "create an API key for a user (the raw key is shown only once)",
    usage:
      "bun run admin create-key --username U --name N [--scopes a,b] [--expires-days D] [--json]",
    description: `Create an API key for a user and print it. The raw key is shown only here: only its SHA-256
hash is stored. Scopes: ${SCOPES.join(", ")} (default oracle:read).`,
    options: {
      username: { type: "string", value: "U", description: "the key's owner (required)" },
      name: { type: "string", value: "N", description: "a label, e.g. phone (required)" },
      scopes: { type: "string", value: "a,b", description: "comma-separated scopes" },
      "expires-days": {
        type: "string",
        value: "D",
        description: "expire after D days (1-3650; default never)",
      },
      json: json('{"id","key","prefix","scopes"}'),
    },
    async run(ctx, o) {
      const username = need(o, "username")
      const name = need(o, "name")
      const scopes = parseScopes(o.scopes as string | undefined)
      const days = o["expires-days"] === undefined ? undefined : Number(o["expires-days"])
      if (days !== undefined && !(Number.isInteger(days) && days >= 1 && days <= 3650))
        throw new UsageError("--expires-days must be a whole number from 1 to 3650")
      const db = await ctx.db()
      const user = await findUser(db, username)
      if (!user) throw new UsageError(`no user named ${username}`)
      const key = await createKey(db, { userId: user.id, name, scopes, expiresDays: days })
      return {
        json: key,
        text: `API key for ${username} (id ${key.id}, scopes ${key.scopes.join(",") || "none"}):\n${key.key}\nStore it now: it cannot be shown again.`,
      }
    },
  },
  "list-keys": {
    summary: "list a user's API keys (prefix only, never the key)",
    usage: "bun run admin list-keys --username U [--json]",
    description: `List a user's API keys, newest first: id, name, prefix, scopes and state. The key itself
is never stored, so it is never shown.`,
    options: {
      username: { type: "string", value: "U", description: "the keys' owner (required)" },
      json: json(
        '{"keys":[{"id","name","prefix","scopes","is_active","created_at","last_used_at","expires_at"}]}',
      ),
    },
    async run(ctx, o) {
      const username = need(o, "username")
      const db = await ctx.db()
      const user = await findUser(db, username)
      if (!user) throw new UsageError(`no user named ${username}`)
      const keys = await listKeys(db, user.id)
      return {
        json: { keys },
        text: keys.length
          ? table(
              ["ID", "NAME", "PREFIX", "SCOPES", "ACTIVE", "EXPIRES", "LAST USED"],
              keys.map((k) => [
                k.id,
                k.name,
                `${k.prefix}…`,
                k.scopes.join(",") || "-",
                k.is_active ? "yes" : "revoked",
                k.expires_at?.slice(0, 10) ?? "never",
                k.last_used_at?.slice(0, 16).replace("T", " ") ?? "never",
              ]),
            )
          : `${username} has no API keys`,
      }
    },
  },
  "revoke-key": {
    summary: "revoke an API key by id",
    usage: "bun run admin revoke-key --id ID [--json]",
    description: "Revoke an API key (ids: bun run admin list-keys). It stops working at once.",
    options: {
      id: { type: "string", value: "ID", description: "the key's id, a uuid (required)" },
      json: json('{"id","is_active":false}'),
    },
    async run(ctx, o) {
      const id = need(o, "id")
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id))
        throw new UsageError("--id must be a key id (a uuid, as list-keys shows)")
      const key = await revokeKey(await ctx.db(), id)
      return { json: key, text: `revoked key ${key.id}` }
    },
  },
  notify: {
    summary: "send a notification to a user's linked Telegram chats (the bot delivers it)",
    usage:
      "bun run admin notify --username U --text T [--format text|html] [--button TEXT=URL]... [--silent] [--protect-content] [--no-link-preview] [--split] [--category C] [--priority normal|high] [--send-at ISO] [--expires-at ISO] [--ru T] [--es T] [--json]",
    description: `Queue a notification for every active, unblocked Telegram chat linked to the user, as
POST /api/telegram/notifications would (as an operator: no sender), with the same options and
the same checks. Follow it with GET /api/telegram/notifications/<id>.`,
    options: NOTIFY_OPTIONS,
    run: (ctx, o) =>
      notifyFromCli(
        ctx.db,
        { username: need(o, "username"), text: need(o, "text", 65_536), ...notifyOptions(o) },
        (message) => new UsageError(message),
      ),
  },
  "list-webhooks": {
    summary: "list a sender's status-webhook endpoints and their health (never the secret)",
    usage: "bun run admin list-webhooks --username U [--json]",
    description: `List the status-webhook endpoints a sender registered (POST /api/telegram/webhook-endpoints):
URL, description, and when the last attempt succeeded or failed, with why. Never the secret.`,
    options: {
      username: { type: "string", value: "U", description: "the sender (required)" },
      json: json(
        '{"endpoints":[{"id","url","description","created_at","last_success_at","last_failure_at","last_error"}]}',
      ),
    },
    run: (ctx, o) =>
      listWebhooksFromCli(ctx.db, need(o, "username"), (message) => new UsageError(message)),
  },
  "gen-key": {
    summary: "print a fresh random nps_ key; touches no database",
    usage: "bun run admin gen-key [--json]",
    description: `Print a fresh random API key (nps_ + 43 characters), e.g. for TELEGRAM_BOT_SERVICE_KEY.
Touches no database.`,
    options: { json: json('{"key"}') },
    async run() {
      const key = generateApiKey()
      return { json: { key }, text: key }
    },
  },
}

const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length))
const OVERVIEW = `Usage: bun run admin <command> [options]

Manage NPS users, API keys and notifications straight in the database: DATABASE_URL, or
embedded PGlite in PGLITE_DIR (default ./.data/pglite, created and migrated on first use; while
the API holds it, commands go through the socket the API serves beside it).

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(width)}   ${c.summary}`)
  .join("\n")}

Run bun run admin <command> --help for its options. With --json a command prints exactly one
JSON object on stdout; errors go to stderr with exit 1.`

async function openDatabase(): Promise<Database> {
  const url = process.env.DATABASE_URL
  if (url) return createDb({ url, max: 1 })
  const dir = process.env.PGLITE_DIR || "./.data/pglite"
  const database = await createDb({ pgliteDir: dir })
  try {
    // Embedded mode, like the API at start: the directory is ours alone, so bring it up to date
    // (a fresh clone's first `bun run admin create-user` just works).
    const applied = await migrate(database.db)
    if (applied.length) console.error(`admin: migrated the embedded database in ${dir}`)
  } catch (error) {
    await database.close()
    throw error
  }
  return database
}

/** A known failure's message for the operator; anything else only its kind (it may quote a secret). */
function describeFailure(error: unknown): string {
  if (error instanceof UsageError || error instanceof ApiError || error instanceof PromptCancelled)
    return error.message
  if (error instanceof Error && error.name === "DatabaseLockedError") return error.message
  // Postgres errors, directly (postgres.js) or wrapped by drizzle (cause).
  const pg = (error as { cause?: { code?: unknown } })?.cause ?? error
  const code = String((pg as { code?: unknown })?.code ?? "")
  if (code === "42P01" || code === "42703")
    return "the database schema is missing or out of date: run bun run db:migrate first"
  if (code === "28P01" || code === "28000")
    return "the database refused the credentials in DATABASE_URL"
  if (code === "3D000") return "the database named in DATABASE_URL does not exist"
  if (/^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|CONNECT_TIMEOUT|ETIMEDOUT|ConnectionRefused)$/.test(code))
    return `cannot reach the database in DATABASE_URL (${code})`
  return `unexpected ${error instanceof Error ? error.name : "error"}; is the database reachable and migrated?`
}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv
  if (name === "--help" || name === "-h" || name === "help") {
    const topic = name === "help" ? args[0] : undefined
    const command =
      topic !== undefined && Object.hasOwn(COMMANDS, topic) ? COMMANDS[topic] : undefined
    if (topic !== undefined && !command)
      throw new UsageError(
        `unknown command ${topic}${didYouMean(topic, Object.keys(COMMANDS))}\n\n${OVERVIEW}`,
      )
    console.log(command ? helpText(command) : OVERVIEW)
    return 0
  }
  if (name === undefined || name.startsWith("-"))
    throw new UsageError(`no command given (options come after it)\n\n${OVERVIEW}`)
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined
  if (!command)
    throw new UsageError(
      `unknown command ${name}${didYouMean(name, Object.keys(COMMANDS))}\nRun bun run admin --help for the list.`,
    )
  let values: Values
  try {
    const parsed = parseCommand(args, command)
    if (parsed === "help") {
      console.log(helpText(command))
      return 0
    }
    values = parsed
  } catch (error) {
    if (error instanceof UsageError)
      throw new UsageError(`${error.message}\nRun bun run admin ${name} --help for usage.`)
    throw error
  }

  let database: Database | undefined
  const ctx: Context = {
    db: async () => {
      database ??= await openDatabase()
      return database.db
    },
    stdin: () => Bun.stdin.text(),
  }
  try {
    const out = await command.run(ctx, values)
    console.log(values.json ? JSON.stringify(out.json) : out.text)
    return 0
  } finally {
    await database?.close()
  }
}

try {
  process.exitCode = await main(process.argv.slice(2))
} catch (error) {
  console.error(`admin: ${describeFailure(error)}`)
  process.exitCode = 1
}
