// `docker compose up` without Docker: both images are built into directories (ops/test/image.ts)
// and their exact commands run there — the migrate job's `command`, the api and bot images' CMD
// and HEALTHCHECK — with the environment compose.yaml gives each container, interpolated from a
// .env written the way .env.example tells an operator to. Only what Docker itself would provide
// is mapped onto this machine: service host names become 127.0.0.1, container paths live under
// the image directory, and the api's port 8000 is a free one. Real Postgres when
// TEST_DATABASE_URL is set (a throwaway database), otherwise embedded PGlite in the api image.
import { afterAll, expect, test } from "bun:test"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type BotApiStandIn, startBotApiStandIn } from "@nps/testing/stand-in"
import postgres from "postgres"
import { type Child, startChild } from "../../scripts/dev/child"
import {
  freePort,
  generateKeyLikeEnvExample,
  parseEnvFile,
  ROOT,
  read,
  readCompose,
  serviceEnvironment,
} from "./helpers"
import { type BuiltImage, buildImage, readDockerfile } from "./image"

const scratch = mkdtempSync(join(tmpdir(), "nps-ops-compose-"))
const cleanups: (() => Promise<unknown> | unknown)[] = []
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
  rmSync(scratch, { recursive: true, force: true })
})

const hex = (bytes: number) =>
  Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("hex")

/** Runs a one-shot command to its end; its combined output and exit code. */
async function runOnce(
  argv: string[],
  cwd: string,
  env: Record<string, string>,
  timeoutMs = 20_000,
) {
  const proc = Bun.spawn(argv, { cwd, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" })
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs)
  const [code, out, err] = await Promise.all([
    proc.exited,
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
  ])
  clearTimeout(timer)
  return { code, out, err, output: `${out}${err}` }
}

async function stopWithin(child: Child, ms: number) {
  const started = performance.now()
  child.stop("SIGTERM")
  const code = await child.exited
  const elapsed = performance.now() - started
  expect({ service: child.name, code, inTime: elapsed < ms }).toEqual({
    service: child.name,
    code: 0,
    inTime: true,
  })
}

test("the images' own commands with compose's environment: migrate twice, a healthy api, a bot that answers /start and links", async () => {
  // --- docker compose build ---
  const cache = new Map()
  const into = join(scratch, "images")
  const apiImage = await buildImage(readDockerfile(join(ROOT, "api/Dockerfile")), {
    context: ROOT,
    into,
    cache,
  })
  const botImage = await buildImage(readDockerfile(join(ROOT, "bot/Dockerfile")), {
    context: ROOT,
    into,
    cache,
  })

  // Each image carries only its own service's code and dependencies.
  const botFiles = botImage.files()
  for (const foreign of [
    "node_modules/drizzle-orm/",
    "node_modules/@electric-sql/",
    "node_modules/postgres/",
    "api/src/",
    "db/src/",
  ])
    expect({ foreign, present: botFiles.some((f) => f.startsWith(foreign)) }).toEqual({
      foreign,
      present: false,
    })
  expect(apiImage.files().some((f) => f.startsWith("node_modules/gramio/"))).toBe(false)

  // Telegram, played by the Bot API stand-in.
  const standIn: BotApiStandIn = await startBotApiStandIn()
  cleanups.push(() => standIn.close())

  // --- .env, filled in as .env.example says ---
  const serviceKey = generateKeyLikeEnvExample() // openssl, as .env.example says: no Bun on the host
  expect(serviceKey).toMatch(/^nps_[A-Za-z0-9_-]{43}$/)
  const dotenv: Record<string, string> = {
    ...parseEnvFile(read(".env.example")),
    NPS_BOT_TOKEN: standIn.token,
    TELEGRAM_BOT_SERVICE_KEY: serviceKey,
    JWT_SECRET: hex(32),
    POSTGRES_PASSWORD: hex(24),
    TELEGRAM_API_ROOT: standIn.url,
  }

  // --- the postgres service ---
  let postgresHost: string | undefined
  const adminUrl = process.env.TEST_DATABASE_URL
  if (adminUrl) {
    const url = new URL(adminUrl)
    const name = `nps_ops_${hex(6)}`
    const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
    await admin.unsafe(`create database ${name}`)
    cleanups.push(async () => {
      await admin.unsafe(`drop database if exists ${name} with (force)`)
      await admin.end()
    })
    dotenv.POSTGRES_USER = decodeURIComponent(url.username) || "postgres"
    if (url.password) dotenv.POSTGRES_PASSWORD = decodeURIComponent(url.password)
    dotenv.POSTGRES_DB = name
    postgresHost = `${url.hostname}:${url.port || "5432"}`
  }

  // --- what each container's environment is, mapped onto this machine ---
  const apiPort = freePort()
  const { services } = readCompose()
  const containerEnv = (image: BuiltImage, service: string): Record<string, string> => {
    const composed = serviceEnvironment(
      services[service] as NonNullable<(typeof services)[string]>,
      dotenv,
    )
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "",
      HOME: image.path("/home/bun"),
      ...image.dockerfile.final.env,
      ...composed,
    }
    for (const [name, value] of Object.entries(env)) {
      let mapped = value
        .replace(/@postgres:5432\//, `@${postgresHost}/`)
        .replace(/\/\/api:8000\//, `//127.0.0.1:${apiPort}/`)
      if (/^\/(home|tmp)\//.test(mapped)) mapped = image.path(mapped)
      env[name] = mapped
    }
    if (service === "api") env.PORT = String(apiPort)
    // No Postgres to give it: the same image on its embedded database.
    if (!postgresHost) delete env.DATABASE_URL
    return env
  }
  mkdirSync(apiImage.path("/home/bun"), { recursive: true })
  mkdirSync(botImage.path("/tmp"), { recursive: true })
  const migrateEnv = containerEnv(apiImage, "migrate")
  const apiEnv = containerEnv(apiImage, "api")
  const botEnv = containerEnv(botImage, "telegram-bot")
  expect(apiEnv.NODE_ENV).toBe("production")
  expect(apiEnv.TELEGRAM_BOT_SERVICE_KEY).toBe(botEnv.TELEGRAM_BOT_SERVICE_KEY as string)

  // --- migrate: compose's command, run on every `up` ---
  const migrateCommand = services.migrate?.command as string[]
  const first = await runOnce(migrateCommand, apiImage.workdir, migrateEnv)
  expect(first.output).toContain("migrations applied")
  expect(first.code).toBe(0)
  const again = await runOnce(migrateCommand, apiImage.workdir, migrateEnv)
  expect(again.output).toContain("database is up to date")
  expect(again.code).toBe(0)

  // --- an operator creates a user and a key (docs/operating.md: docker compose exec api bun api/src/admin.ts …) ---
  const admin = (...args: string[]) =>
    runOnce(["bun", "api/src/admin.ts", ...args, "--json"], apiImage.workdir, apiEnv)
  const user = await admin("create-user", "--username", "alice", "--password", "a long password")
  expect(user.code).toBe(0)
  const created = await admin("create-key", "--username", "alice", "--name", "phone")
  expect(created.code).toBe(0)
  const aliceKey = (JSON.parse(created.out) as { key: string }).key

  // --- api: the image's CMD, then its HEALTHCHECK ---
  const apiCmd = apiImage.dockerfile.final.cmd as string[]
  const api = startChild({
    name: "api",
    argv: apiCmd,
    cwd: apiImage.workdir,
    env: apiEnv,
    logFile: join(scratch, "api.log"),
  })
  cleanups.push(() => api.stop("SIGKILL"))
  await api.waitFor((r) => r.msg === "api listening", 20_000)
  const apiHealth = apiImage.dockerfile.final.healthcheck?.cmd as string[]
  expect((await runOnce(apiHealth, apiImage.workdir, apiEnv)).code).toBe(0)

  // --- telegram-bot: the image's CMD, talking to the api by its (mapped) service name ---
  const bot = startChild({
    name: "bot",
    argv: botImage.dockerfile.final.cmd as string[],
    cwd: botImage.workdir,
    env: botEnv,
    logFile: join(scratch, "bot.log"),
  })
  cleanups.push(() => bot.stop("SIGKILL"))
  await Promise.race([
    standIn.waitForPoll(),
    bot.waitFor(() => false, 20_000), // rejects if the bot exits or never polls
  ])

  const chatId = 5_550_001
  const say = async (text: string) => {
    const since = standIn.calls.length
    const update = standIn.message(chatId, text)
    await bot.waitFor((r) => r.msg === "update handled" && r.update_id === update.update_id, 10_000)
    return {
      update,
      replies: standIn
        .sent(chatId)
        .filter((c) => c.index >= since)
        .map((c) => String(c.params.text)),
    }
  }
  const start = await say("/start")
  expect(start.replies.join("\n")).toContain("NPS Oracle Bot")
  const link = await say(`/link ${aliceKey}`)
  expect(link.replies.join("\n")).toContain("Account linked")
  expect(link.replies.join("\n")).toContain("Welcome, alice")
  await standIn.waitForCall(
    "deleteMessage",
    (c) => c.params.message_id === link.update.message?.message_id,
  )
  // A getUpdates asking past the next update means the poll that delivered that update has
  // finished, heartbeat included (a long poll is seen as it starts, so listen before sending).
  const nextUpdateId = link.update.update_id + 1
  const polledPast = standIn.waitForRequest("getUpdates", (p) => Number(p.offset) > nextUpdateId, {
    timeoutMs: 10_000,
  })
  // /status needs the service key: the api accepted the very key the bot was given.
  const status = await say("/status")
  expect(status.update.update_id).toBe(nextUpdateId)
  expect(status.replies.join("\n")).toContain("alice")

  // --- the bot's HEALTHCHECK: the heartbeat of its polling loop ---
  await polledPast
  const heartbeat = botEnv.BOT_HEARTBEAT_FILE as string
  expect(existsSync(heartbeat)).toBe(true)
  const botHealth = botImage.dockerfile.final.healthcheck?.cmd as string[]
  expect((await runOnce(botHealth, botImage.workdir, botEnv)).code).toBe(0)
  // Polling dead while the process lives: no heartbeat for two minutes → unhealthy.
  const twoMinutesAgo = new Date(Date.now() - 120_000)
  utimesSync(heartbeat, twoMinutesAgo, twoMinutesAgo)
  expect((await runOnce(botHealth, botImage.workdir, botEnv)).code).toBe(1)

  // --- docker compose stop: dependents first, each well inside its grace period ---
  await stopWithin(bot, 10_000)
  await stopWithin(api, 10_000)

  const logs = [
    readFileSync(join(scratch, "api.log"), "utf8"),
    readFileSync(join(scratch, "bot.log"), "utf8"),
    first.output,
    again.output,
  ].join("\n")
  for (const secret of [serviceKey, standIn.token, dotenv.JWT_SECRET as string, aliceKey])
    expect(logs).not.toContain(secret)
}, 60_000)
