// The notification delivery scenario of `bun run bench` (also runnable alone: `bun
// bench/delivery.ts`): notifications from POST to Telegram, against the Bot API stand-in enforcing
// Telegram's flood limits (30 messages a second, 1 a second to a chat; 429 beyond). Everything real
// but Telegram: the API over HTTP on BENCH_DATABASE_URL (a throwaway database is created in it and
// dropped) or PGlite in memory, the bot's delivery loop and pacer, the stand-in. Prints its
// Markdown section of the report:
//   - 3,000 notifications to 3,000 chats: messages a second sustained (target ≥ 27), 429s (0);
//   - 20 notifications to one chat: the pace in that chat (~1 a second);
//   - a lone notification on an idle system, POST to Telegram: p50 and p99 (target < 500 ms).
import { createDb, migrate, telegramLinks, users } from "@nps/db"
import { createLogger } from "@nps/log"
import { type RecordedCall, startBotApiStandIn } from "@nps/testing/stand-in"
import { createApp } from "../api/src/app"
import { ensureServiceKey } from "../api/src/bootstrap"
import { loadConfig } from "../api/src/config"
import { generateApiKey } from "../api/src/credentials"
import { createKey } from "../api/src/modules/keys/service"
import { createApiClient } from "../bot/src/api-client"
import { createBot } from "../bot/src/bot"
import { createCleanup } from "./cleanup"
import { throwawayDatabase } from "./database"
import { percentile } from "./load"

const BROADCAST = Number(process.env.BENCH_CHATS ?? 3_000)
const ONE_CHAT = Number(process.env.BENCH_ONE_CHAT ?? 20)
const LONE = Number(process.env.BENCH_LONE ?? 100)
const POST_CONCURRENCY = 16

const adminUrl = process.env.BENCH_DATABASE_URL
// Interrupted or failed, the throwaway database goes too.
const cleanup = createCleanup((text) => process.stderr.write(`bench/delivery: ${text}\n`))
process.once("uncaughtException", (error) => {
  console.error(error)
  void cleanup.run().finally(() => process.exit(1))
})
let target: Parameters<typeof createDb>[0] = { memory: true }
if (adminUrl) {
  const throwaway = await throwawayDatabase(adminUrl, "nps_bench_delivery", cleanup)
  target = { url: throwaway.url, max: 10, queryTimeoutMs: 3_000 }
}

const database = await createDb(target)
const { db } = database
await migrate(db)
const serviceKey = generateApiKey()
await ensureServiceKey(db, serviceKey)
const [sender] = await db
  .insert(users)
  .values({ username: "oracle-service", passwordHash: "x" })
  .returning({ id: users.id })
const notifyKey = (
  await createKey(db, { userId: sender?.id as string, name: "bench", scopes: ["telegram:notify"] })
).key

// One user per chat: private chats with positive ids.
const CHAT_BASE = 500_000_000
const chatCount = BROADCAST + 1 + LONE
const people: string[] = []
for (let start = 0; start < chatCount; start += 1_000) {
  const batch = Array.from({ length: Math.min(1_000, chatCount - start) }, (_, i) => ({
    username: `reader${start + i}`,
    passwordHash: "x",
  }))
  const rows = await db.insert(users).values(batch).returning({ id: users.id })
  await db
    .insert(telegramLinks)
    .values(rows.map((u, i) => ({ telegramChatId: CHAT_BASE + start + i, userId: u.id })))
  people.push(...rows.map((u) => u.id))
}

const quiet = createLogger({ service: "bench", level: "error" })
const app = createApp({
  db,
  config: loadConfig({ JWT_SECRET: "bench-secret-0123456789" }),
  logger: quiet,
  listen: database.listen,
}).listen({ hostname: "127.0.0.1", port: 0 })
const apiUrl = `http://127.0.0.1:${app.server?.port}/api`

const standIn = await startBotApiStandIn({ floodLimits: true })
const sentAt = new Map<number, number[]>()
standIn.onCall((call: RecordedCall) => {
  if (call.method !== "sendMessage" || call.status !== 200) return
  const chat = Number(call.params.chat_id)
  sentAt.set(chat, [...(sentAt.get(chat) ?? []), performance.now()])
})
const bot = createBot({
  config: {
    token: standIn.token,
    rateLimit: 20,
    telegramApiRoot: standIn.url,
    heartbeatFile: undefined,
  },
  api: createApiClient({ baseUrl: apiUrl, serviceKey, logger: quiet }),
  logger: quiet,
  deliveries: true,
})

const post = async (userId: string, text: string) => {
  const response = await fetch(`${apiUrl}/telegram/notifications`, {
    method: "POST",
    headers: { authorization: `Bearer ${notifyKey}`, "content-type": "application/json" },
    body: JSON.stringify({ user_id: userId, text }),
  })
  if (response.status !== 202) throw new Error(`POST answered ${response.status}`)
}
const sentCount = (chats: number[]) => chats.reduce((n, c) => n + (sentAt.get(c)?.length ?? 0), 0)
/** Polls the stand-in's record until `done`; a delivery that never comes fails the run. */
const until = async (done: () => boolean, what: string, timeoutMs: number) => {
  const deadline = performance.now() + timeoutMs
  while (!done()) {
    if (performance.now() > deadline)
      throw new Error(`delivery bench: ${what} not done in ${timeoutMs} ms`)
    await Bun.sleep(20)
  }
}

// 1. A broadcast: one notification to each of BROADCAST chats, posted 16 at a time, then
// delivered. Accepted before the bot starts, so the rate measured is the delivery path's own
// (PGlite runs one query at a time: thousands of POSTs at once would starve the bot's leases).
const broadcastChats = Array.from({ length: BROADCAST }, (_, i) => CHAT_BASE + i)
const accepting = performance.now()
let next = 0
await Promise.all(
  Array.from({ length: POST_CONCURRENCY }, async () => {
    while (next < BROADCAST) {
      const i = next++
      await post(people[i] as string, `Broadcast ${i}: your daily Oracle summary is ready.`)
    }
  }),
)
const acceptedIn = (performance.now() - accepting) / 1000
await bot.start()
// At 10 a second or better (Telegram allows 30), plus a minute for the start.
await until(() => sentCount(broadcastChats) >= BROADCAST, "the broadcast", 60_000 + BROADCAST * 100)
const stamps = broadcastChats.flatMap((c) => sentAt.get(c) ?? []).sort((a, b) => a - b)
const broadcastSeconds = ((stamps.at(-1) ?? 0) - (stamps[0] ?? 0)) / 1000
const sustained = (stamps.length - 1) / broadcastSeconds
let busiest = 0
for (let lo = 0, hi = 0; hi < stamps.length; hi++) {
  while ((stamps[hi] ?? 0) - (stamps[lo] ?? 0) >= 1_000) lo++
  busiest = Math.max(busiest, hi - lo + 1)
}
const broadcast429 = standIn.floodRefusals

// 2. Twenty notifications to one chat.
const oneChat = CHAT_BASE + BROADCAST
for (let i = 0; i < ONE_CHAT; i++) await post(people[BROADCAST] as string, `Update ${i + 1}`)
await until(
  () => sentCount([oneChat]) >= ONE_CHAT,
  "one chat's messages",
  10_000 + ONE_CHAT * 3_000,
)
const inChat = sentAt.get(oneChat) ?? []
const gaps = inChat.slice(1).map((t, i) => t - (inChat[i] ?? t))
const chatRate = (inChat.length - 1) / (((inChat.at(-1) ?? 0) - (inChat[0] ?? 0)) / 1000)
const ordered = Array.from({ length: ONE_CHAT }, (_, i) => `Update ${i + 1}`)
const chatTexts = standIn
  .sent(oneChat)
  .filter((c) => c.status === 200)
  .map((c) => c.params.text)
const inOrder = JSON.stringify(chatTexts) === JSON.stringify(ordered)

// 3. A lone notification on an idle system, each to a chat of its own: POST to Telegram.
await Bun.sleep(1_100)
const latencies: number[] = []
for (let i = 0; i < LONE; i++) {
  const chat = CHAT_BASE + BROADCAST + 1 + i
  const started = performance.now()
  await post(people[BROADCAST + 1 + i] as string, "Your reading is ready.")
  await until(() => sentCount([chat]) >= 1, "a lone notification", 10_000)
  latencies.push((sentAt.get(chat)?.[0] ?? 0) - started)
  await Bun.sleep(50)
}
latencies.sort((a, b) => a - b)
const pct = (p: number) => percentile(latencies, p / 100)
const total429 = standIn.floodRefusals

await bot.stop()
await app.stop()
await standIn.close()
await database.close()
await cleanup.run()

const f = (n: number, digits = 1) => n.toFixed(digits)
const where = database.driver === "postgres" ? "Postgres" : "PGlite (in memory)"
console.log(`## Notification delivery

The API over HTTP on ${where}, the bot's delivery loop and pacer, and the Bot API stand-in enforcing Telegram's flood limits (30 messages a second overall, 1 a second to a chat; 429 beyond), in one process (\`bench/delivery.ts\`). The ${BROADCAST.toLocaleString("en")} notifications are accepted before the bot starts (in ${f(acceptedIn)} s), so the rate is the delivery path's own; one run, each row measured over many messages.

| scenario | measured | target |
| --- | --- | --- |
| ${BROADCAST.toLocaleString("en")} notifications → ${BROADCAST.toLocaleString("en")} chats | **${f(sustained)} messages/s** sustained over ${f(broadcastSeconds)} s (busiest second ${busiest}); ${broadcast429} × 429 | ≥ 27/s, zero 429s |
| ${ONE_CHAT} notifications → one chat | **${f(chatRate, 2)} messages/s** (gaps ${f(Math.min(...gaps) / 1000, 2)}–${f(Math.max(...gaps) / 1000, 2)} s), ${inOrder ? "in acceptance order" : "OUT OF ORDER"} | ~1/s, in order |
| a lone notification on an idle system, POST → Telegram (${LONE} samples) | p50 **${f(pct(50))} ms**, p99 **${f(pct(99))} ms**, max ${f(latencies.at(-1) ?? 0)} ms | p99 < 500 ms |
| 429s from the stand-in, whole run | **${total429}** | 0 |`)
process.exit(0)
