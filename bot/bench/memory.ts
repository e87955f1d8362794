// Resident memory of the bot process (`bun bot/src/main.ts`, exactly as production runs it):
// at start, after a full conversation, and after 10,000 distinct chats have hit the rate limiter.
// The bot talks to the Bot API stand-in and the real API (PGlite in memory), both in this process,
// so the numbers are the bot's alone. It runs twice: with Bun's defaults, and with JavaScriptCore's
// JIT disabled (BUN_JSC_useJIT=0) — most of the growth under load is JIT code, not data — and
// then as the bot image runs it with METRICS_PORT set, scraped every 1,000 chats.
// (Measured and dropped: `bun --smol` peaks like the defaults; BUN_JSC_useDFGJIT=0 at ~81 MB.)
// Prints one JSON object. Usage: bun bot/bench/memory.ts [chats]
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import {
  makeApp,
  openTestDatabase,
  seedProfiles,
  seedServiceKey,
  seedUser,
} from "../../api/test/helpers"
import { startBotApiStandIn } from "../src/stand-in"

const CHATS = Number(process.argv[2] ?? 10_000)
const TARGET_MB = 64
const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url))

const rssMb = (pid: number) => {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1])
  return Math.round((kb / 1024) * 10) / 10
}

const database = await openTestDatabase("pglite")
const { app } = makeApp(database.db)
const service = await seedServiceKey(database.db)
const alice = await seedUser(database.db, { username: "alice" })
await seedProfiles(database.db, alice.user.id, [
  { name: "Zoë 🌙 *main*", birthday: "1990-05-17" },
  { name: "Second_profile [b]", birthday: "1985-01-31" },
])
const api = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (request) => app.handle(request) })

async function measure(label: string, extraEnv: Record<string, string>, bunFlags: string[] = []) {
  const standIn = await startBotApiStandIn()
  const bot = Bun.spawn(["bun", ...bunFlags, MAIN], {
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      NPS_BOT_TOKEN: standIn.token,
      TELEGRAM_API_ROOT: standIn.url,
      TELEGRAM_BOT_API_URL: `http://127.0.0.1:${api.port}/api`,
      TELEGRAM_BOT_SERVICE_KEY: service.key,
      LOG_LEVEL: "warn",
      ...extraEnv,
    },
    stdout: "ignore",
    stderr: "inherit",
  })
  await standIn.waitForPoll()
  const atStart = rssMb(bot.pid)

  // One chat walks through every command.
  const chat = 4242
  for (const text of [
    "/start",
    "/help",
    `/link ${alice.key}`,
    "/status",
    "/profile",
    "/nonsense",
    "hello",
    "/unlink",
    "/status",
  ])
    await standIn.say(chat, text, { timeoutMs: 10_000 })
  const afterConversation = rssMb(bot.pid)

  // Distinct chats, one message each: every one is a new key in the rate limiter.
  const started = performance.now()
  let peak = afterConversation
  let sent = 0
  let pageDone = () => {}
  standIn.onCall((call) => {
    if (call.method === "sendMessage" && ++sent % 100 === 0) pageDone()
  })
  for (let batch = 0; batch < CHATS / 100; batch++) {
    // One getUpdates page at a time: queue 100 chats, wait for their 100 replies.
    const page = new Promise<void>((resolve) => {
      pageDone = resolve
    })
    for (let i = 0; i < 100; i++) standIn.message(1_000_000 + batch * 100 + i, "/help")
    await page
    if (batch % 10 === 0) {
      if (extraEnv.METRICS_PORT)
        await (await fetch(`http://127.0.0.1:${extraEnv.METRICS_PORT}/metrics`)).text()
      peak = Math.max(peak, rssMb(bot.pid))
    }
  }
  const afterChats = rssMb(bot.pid)
  peak = Math.max(peak, afterChats)
  const elapsedMs = Math.round(performance.now() - started)

  bot.kill("SIGTERM")
  const exitCode = await bot.exited
  const replies = standIn.sent().length
  await standIn.close()
  return {
    label,
    rss_mb: {
      at_start: atStart,
      after_conversation: afterConversation,
      after_chats: afterChats,
      peak,
    },
    within_target: peak < TARGET_MB,
    replies,
    chats_ms: elapsedMs,
    exit_code: exitCode,
  }
}

const freePort = () => {
  const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() })
  const port = String(probe.port)
  probe.stop(true)
  return port
}

const runs = [
  await measure("bun defaults", {}),
  await measure("JIT disabled (BUN_JSC_useJIT=0)", { BUN_JSC_useJIT: "0" }),
  await measure("JIT disabled, metrics on (the bot image with METRICS_PORT)", {
    BUN_JSC_useJIT: "0",
    METRICS_PORT: freePort(),
  }),
]
api.stop(true)
await database.close()
console.log(JSON.stringify({ chats: CHATS, target_mb: TARGET_MB, runs }, null, 2))
