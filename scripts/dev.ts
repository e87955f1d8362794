// `bun run dev`: the whole product on one machine, offline, with no setup.
//   1. embedded Postgres (PGlite in PGLITE_DIR, or DATABASE_URL when set), migrated, with a demo
//      user, two Oracle profiles, a demo API key and a fresh one-tap link token — seeded here,
//      then closed again: PGlite allows one process, and the API is the one that keeps it;
//   2. the API: `bun --hot api/src/main.ts`;
//   3. the bot: `bun --hot bot/src/main.ts` — against real Telegram when NPS_BOT_TOKEN is set,
//      otherwise against a local Bot API stand-in, and this terminal becomes the chat.
// Ctrl-C (or the end of piped input) stops everything; a second run reuses the data.
import { randomBytes } from "node:crypto"
import { dirname, join, relative, resolve } from "node:path"
import { createDb, migrate } from "@nps/db"
import { type BotApiStandIn, startBotApiStandIn } from "@nps/testing/stand-in"
import { answerCommandLine, type CommandSpec } from "../api/src/cli"
import { generateApiKey } from "../api/src/credentials"
import { runChat } from "./dev/chat"
import { type Child, formatRecord, type LogRecord, startChild } from "./dev/child"
import { claimDevDir } from "./dev/claim"
import { type DemoSeed, seedDemo } from "./dev/seed"

const ROOT = resolve(import.meta.dir, "..")

const COMMAND: CommandSpec = {
  usage: "bun run dev",
  description: `The whole product on this machine with no setup: embedded Postgres (PGlite) with a demo
user, the API and the bot, both reloading when their code changes. Without NPS_BOT_TOKEN the
bot talks to a local stand-in for Telegram and this terminal becomes the chat; Ctrl-C stops.

Reads DATABASE_URL (Postgres instead of PGlite), PGLITE_DIR (default ./.data/pglite), PORT
(the API's, default 8000) and NPS_BOT_TOKEN (real Telegram) when set, e.g. in .env.`,
  options: {},
}
// --help, or anything it does not understand, before a database or a port is touched.
answerCommandLine(COMMAND, "dev", "bun run dev --help")

const env = process.env
const value = (name: string) => (env[name]?.trim() ? env[name]?.trim() : undefined)
const colour = Boolean(process.stdout.isTTY) && !value("NO_COLOR")
const print = (text: string) => process.stdout.write(`${text}\n`)
const bold = (text: string) => (colour ? `\x1b[1m${text}\x1b[0m` : text)
const dim = (text: string) => (colour ? `\x1b[2m${text}\x1b[0m` : text)

const CHAT_ID = 100_200_300
const READY_TIMEOUT_MS = 60_000
const ANSWER_TIMEOUT_MS = 20_000
const STOP_TIMEOUT_MS = 12_000
const SAME_PRESS_MS = 1_000

const databaseUrl = value("DATABASE_URL")
const pgliteDir = resolve(ROOT, value("PGLITE_DIR") ?? ".data/pglite")
const devDir = databaseUrl ? join(ROOT, ".data", "dev") : join(dirname(pgliteDir), "dev")
const token = value("NPS_BOT_TOKEN")
const show = (path: string) => {
  const rel = relative(process.cwd(), path)
  return rel.startsWith("..") ? path : rel || "."
}

const children: Child[] = []
let standIn: BotApiStandIn | undefined
let stopping: Promise<never> | undefined
let releaseDevDir = () => {}

function stop(reason: string, failed = false): Promise<never> {
  stopping ??= (async () => {
    print(dim(`\nstopping (${reason})…`))
    for (const child of children) child.stop("SIGTERM")
    const codes = await Promise.race([
      Promise.all(children.map((c) => c.exited)),
      Bun.sleep(STOP_TIMEOUT_MS).then(() => undefined),
    ])
    if (!codes) {
      print(`still running after ${STOP_TIMEOUT_MS / 1000} s; killing`)
      for (const child of children) child.stop("SIGKILL")
    }
    await standIn?.close()
    const summary = children.map((c, i) => `${c.name} exit ${codes?.[i] ?? "killed"}`).join(", ")
    const clean = codes?.every((code) => code === 0) ?? false
    releaseDevDir()
    print(dim(`stopped${summary ? ` (${summary})` : ""}`))
    process.exit(failed || !clean ? 1 : 0)
  })()
  return stopping
}
let firstInterrupt = 0
process.on("SIGINT", () => {
  if (!stopping) {
    firstInterrupt = Date.now()
    return void stop("Ctrl-C")
  }
  // `bun run` passes the terminal's Ctrl-C on too, so one press arrives twice within moments;
  // only a second press, later, means "do not wait any longer".
  if (Date.now() - firstInterrupt < SAME_PRESS_MS) return
  for (const child of children) child.stop("SIGKILL")
  process.exit(130)
})
process.on("SIGTERM", () => void stop("SIGTERM"))

async function seed(): Promise<DemoSeed> {
  const database = await createDb(databaseUrl ? { url: databaseUrl, max: 1 } : { pgliteDir })
  try {
    await migrate(database.db)
    return await seedDemo(database.db, { keyFile: join(devDir, "demo-key") })
  } finally {
    await database.close()
  }
}

/** Prints a child's log lines: all of them normally, only problems while the terminal is a chat. */
function logPrinter(name: string, chatMode: boolean) {
  return (record: LogRecord | undefined, line: string) => {
    if (stopping) return
    if (!record) return print(dim(`${name}: ${line}`))
    if (chatMode && record.level !== "warn" && record.level !== "error") return
    print(formatRecord(name, record, colour))
  }
}

/** Whether something already listens on the API's address; checked before anything starts. */
function portTaken(hostname: string, port: number): boolean {
  try {
    Bun.listen({ hostname, port, socket: { data() {} } }).stop(true)
    return false
  } catch (error) {
    if ((error as { code?: unknown }).code === "EADDRINUSE") return true
    throw error
  }
}

async function main() {
  print(bold("NPS Telegram — development stack"))
  const host = value("HOST") ?? "127.0.0.1"
  const port = Number(value("PORT") ?? 8000)
  if (Number.isInteger(port) && port > 0 && portTaken(host, port)) {
    print(`Port ${port} is already in use (another \`bun run dev\` or API, perhaps).`)
    print(`Stop it, or pick another port: PORT=${port === 8000 ? 8001 : port + 1} bun run dev`)
    return process.exit(1)
  }
  const claim = claimDevDir(join(devDir, "dev.pid"))
  if ("heldBy" in claim) {
    const data = databaseUrl ? "this checkout's .data/dev" : show(pgliteDir)
    print(`Another bun run dev (pid ${claim.heldBy}) is already running on ${data}.`)
    print(
      databaseUrl
        ? "Stop it first (Ctrl-C in its terminal); one stack per checkout."
        : `Stop it first (Ctrl-C in its terminal), or give this one its own data: PGLITE_DIR=${show(join(dirname(pgliteDir), "pglite-2"))} bun run dev`,
    )
    return process.exit(1)
  }
  releaseDevDir = claim.release
  print(
    dim(databaseUrl ? "database: DATABASE_URL" : `database: embedded PGlite in ${show(pgliteDir)}`),
  )
  let demo: DemoSeed
  try {
    demo = await seed()
  } catch (error) {
    print(`cannot prepare the database: ${error instanceof Error ? error.message : String(error)}`)
    releaseDevDir()
    return process.exit(1)
  }

  // The bot's key for this run; the API makes sure it exists at start. Same for the JWT secret,
  // so login tokens survive hot reloads of the API.
  const serviceKey = value("TELEGRAM_BOT_SERVICE_KEY") ?? generateApiKey()
  const jwtSecret = value("JWT_SECRET") ?? randomBytes(32).toString("hex")
  const chatMode = !token
  const bun = process.execPath
  // The terminal chat's Telegram, started first so the API builds t.me links with its name.
  if (chatMode) {
    standIn = await startBotApiStandIn({
      bot: { first_name: "NPS Oracle Bot (local)", username: "NpsOracleDevBot" },
    })
  }
  const botUsername = standIn?.botInfo.username ?? value("TELEGRAM_BOT_USERNAME")?.replace(/^@/, "")

  const api = startChild({
    name: "api",
    argv: [bun, "--hot", "api/src/main.ts"],
    cwd: ROOT,
    env: {
      ...env,
      HOST: host,
      PGLITE_DIR: pgliteDir,
      JWT_SECRET: jwtSecret,
      TELEGRAM_BOT_SERVICE_KEY: serviceKey,
      ...(botUsername && { TELEGRAM_BOT_USERNAME: botUsername }),
    },
    logFile: join(devDir, "api.log"),
    onLine: logPrinter("api", chatMode),
  })
  children.push(api)
  void api.exited.then((code) => stop(`the API exited with code ${code}`, true))
  const listening = await api.waitFor((r) => r.msg === "api listening", READY_TIMEOUT_MS)
  const apiUrl = String(listening.url).replace("//0.0.0.0:", "//127.0.0.1:")

  const finished = new Map<number, () => void>()
  const bot = startChild({
    name: "bot",
    argv: [bun, "--hot", "bot/src/main.ts"],
    cwd: ROOT,
    env: {
      ...env,
      TELEGRAM_BOT_API_URL: apiUrl,
      TELEGRAM_BOT_SERVICE_KEY: serviceKey,
      ...(standIn && { NPS_BOT_TOKEN: standIn.token, TELEGRAM_API_ROOT: standIn.url }),
    },
    logFile: join(devDir, "bot.log"),
    onLine: (record, line) => {
      // The bot logs one line per update when it is done with it: the chat waits for that.
      if (record?.msg === "update handled" || record?.msg === "update failed")
        finished.get(Number(record.update_id))?.()
      logPrinter("bot", chatMode)(record, line)
    },
  })
  children.push(bot)
  void bot.exited.then((code) => stop(`the bot exited with code ${code}`, true))

  print("")
  print(`API      ${apiUrl}   (docs: ${apiUrl.replace(/\/api$/, "/swagger")})`)
  print(`demo     user ${bold(demo.username)}, password "${demo.password}"`)
  print(`         profiles: ${demo.profiles.map((p) => `${p.name} (${p.birthday})`).join(", ")}`)
  print(`demo key ${bold(demo.key)}${demo.keyReused ? dim("  (kept from the last run)") : ""}`)
  const startLink = botUsername
    ? `https://t.me/${botUsername}?start=${demo.linkToken}`
    : `/start ${demo.linkToken}`
  print(`link     ${bold(startLink)}  ${dim("(one tap, once, for 10 minutes)")}`)
  print(
    dim(
      `         a new one: curl -s -X POST ${apiUrl}/telegram/link-tokens -H "Authorization: Bearer ${demo.key}"`,
    ),
  )
  // The admin CLI reaches the API's PGlite through the socket the API serves beside it.
  const adminEnv = databaseUrl || !value("PGLITE_DIR") ? "" : `PGLITE_DIR=${show(pgliteDir)} `
  print(
    dim(
      `notify   ${adminEnv}bun run admin notify --username ${demo.username} --text 'Hello from NPS'  (another terminal, once linked)`,
    ),
  )
  // Only an admin may read a notification the admin CLI sent (it has no sender): demo-ops's key.
  print(
    dim(
      `         follow it: curl -s ${apiUrl}/telegram/notifications/<id> -H "Authorization: Bearer ${demo.notifyKey}"`,
    ),
  )
  print(dim(`logs     ${show(join(devDir, "api.log"))}, ${show(join(devDir, "bot.log"))}`))

  if (!standIn) {
    print("")
    print("The bot is polling real Telegram (NPS_BOT_TOKEN is set). In Telegram, send it")
    print(`/start ${demo.linkToken}  (or /link ${demo.key})`)
    print(dim("Both services reload when you edit their code. Ctrl-C stops everything."))
    await new Promise(() => {}) // until a signal or a child's exit
    return
  }

  await Promise.race([
    standIn.waitForPoll(),
    Bun.sleep(READY_TIMEOUT_MS).then(() => {
      throw new Error("the bot did not start polling")
    }),
  ])
  print("")
  print(bold("You are chatting with the bot (a local stand-in for Telegram; no account needed)."))
  print(`Try /start, the link above (paste it: the chat follows it as Telegram would), /status,`)
  print(`/profile, /help, /unlink, /link ${demo.key}`)
  print(dim("Both services reload when you edit their code. Ctrl-C or Ctrl-D stops everything."))
  print("")
  await runChat({
    standIn,
    chatId: CHAT_ID,
    input: process.stdin,
    print,
    colour,
    botLog: show(join(devDir, "bot.log")),
    handled: (updateId) =>
      new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          finished.delete(updateId)
          resolve(false)
        }, ANSWER_TIMEOUT_MS)
        finished.set(updateId, () => {
          clearTimeout(timer)
          finished.delete(updateId)
          resolve(true)
        })
      }),
  })
  await stop("end of input")
}

main().catch((error) => stop(error instanceof Error ? error.message : String(error), true))
