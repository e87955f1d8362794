// The paid broadcast scenario of `bun run bench` (BENCH_ONLY=paid; also runnable alone: `bun
// bench/paid-broadcast.ts`), issue 20: N notifications to N chats, accepted beforehand, delivered
// by the bot with `allow_paid_broadcast` at TELEGRAM_BROADCAST_RATE=1000 against the Bot API
// stand-in modelling Telegram's paid limits (1,000 a second, 1 a second to a chat; 429 beyond).
// Beside it, in the same run, the bare sender: a `Bun.serve` stand-in and a loop fetching
// sendMessage as fast as the limit allows — the ceiling our pipeline's rate is a ratio of.
// API, bot and stand-in share this process (CPU per message: this process, and the Postgres
// backends). N: BENCH_PAID_COUNT, default 5,000 (20,000, the issue's figure, with BENCH_FULL=1).
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
import { createBroadcastMode } from "../bot/src/outbound/broadcast"
import { createCleanup } from "./cleanup"
import { throwawayDatabase } from "./database"
import { cpuMs } from "./processes"

const COUNT = Number(process.env.BENCH_PAID_COUNT ?? (process.env.BENCH_FULL ? 20_000 : 5_000))
const RATE = 1_000
const POST_CONCURRENCY = 16
const adminUrl = process.env.BENCH_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres"

const cleanup = createCleanup((text) => process.stderr.write(`bench/paid: ${text}\n`))
process.once("uncaughtException", (error) => {
  console.error(error)
  void cleanup.run().finally(() => process.exit(1))
})
const progress = (text: string) => process.stderr.write(`bench/paid: ${text}\n`)

/** Messages a second over the sends' timestamps, and the busiest second. */
function rateOf(stamps: number[]) {
  const s = [...stamps].sort((a, b) => a - b)
  const seconds = ((s.at(-1) ?? 0) - (s[0] ?? 0)) / 1000
  let busiest = 0
  for (let lo = 0, hi = 0; hi < s.length; hi++) {
    while ((s[hi] ?? 0) - (s[lo] ?? 0) >= 1_000) lo++
    busiest = Math.max(busiest, hi - lo + 1)
  }
  return { perSecond: (s.length - 1) / seconds, seconds, busiest }
}

/** The bare sender: a stand-in that only counts (429 past RATE a second) and a paced loop. */
async function bareSender(count: number) {
  const window: number[] = []
  let refused = 0
  const stamps: number[] = []
  const ok = JSON.stringify({ ok: true, result: { message_id: 1, chat: { id: 1 }, date: 0 } })
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: async (request) => {
      await request.json()
      const now = performance.now()
      while (window.length && (window[0] ?? 0) <= now - 1_000) window.shift()
      if (window.length >= RATE) {
        refused++
        return Response.json({ ok: false, error_code: 429, parameters: { retry_after: 1 } })
      }
      window.push(now)
      stamps.push(now)
      return new Response(ok, { headers: { "content-type": "application/json" } })
    },
  })
  const url = `http://127.0.0.1:${server.port}/botTOKEN/sendMessage`
  const inFlight = new Set<Promise<unknown>>()
  // As fast as the limit allows: a sliding window like Telegram's, a little wider (20 ms) so that
  // the jitter between sending and arriving never puts RATE + 1 into one of the stand-in's.
  const sent: number[] = []
  for (let i = 0; i < count; i++) {
    if (sent.length >= RATE) {
      const wait = (sent[sent.length - RATE] ?? 0) + 1_020 - performance.now()
      if (wait > 0) await Bun.sleep(wait)
    }
    sent.push(performance.now())
    if (inFlight.size >= 64) await Promise.race(inFlight)
    const body = { chat_id: 1 + i, text: `Broadcast ${i}`, allow_paid_broadcast: true }
    const p: Promise<unknown> = fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    })
      .then((r) => r.arrayBuffer())
      .finally(() => inFlight.delete(p))
    inFlight.add(p)
  }
  await Promise.all(inFlight)
  server.stop(true)
  return { ...rateOf(stamps), refused }
}

progress(`bare sender: ${COUNT.toLocaleString("en")} sendMessage at ${RATE}/s`)
const cpuBareBefore = process.cpuUsage()
const bare = await bareSender(COUNT)
const bareCpu = process.cpuUsage(cpuBareBefore)

const throwaway = await throwawayDatabase(adminUrl, "nps_bench_paid", cleanup)
const database = await createDb({ url: throwaway.url, max: 10, queryTimeoutMs: 3_000 })
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
const CHAT_BASE = 600_000_000
const people: string[] = []
for (let start = 0; start < COUNT; start += 1_000) {
  const batch = Array.from({ length: Math.min(1_000, COUNT - start) }, (_, i) => ({
    username: `paid${start + i}`,
    passwordHash: "x",
  }))
  const rows = await db.insert(users).values(batch).returning({ id: users.id })
  await db
    .insert(telegramLinks)
    .values(rows.map((u, i) => ({ telegramChatId: CHAT_BASE + start + i, userId: u.id })))
  people.push(...rows.map((u) => u.id))
}

const logger = createLogger({ service: "bench", level: "warn" })
const app = createApp({
  db,
  config: loadConfig({ JWT_SECRET: "bench-secret-0123456789" }),
  logger,
  listen: database.listen,
}).listen({ hostname: "127.0.0.1", port: 0 })
const apiUrl = `http://127.0.0.1:${app.server?.port}/api`
cleanup.add(async () => {
  await app.stop()
  await database.close()
})

progress(`accepting ${COUNT.toLocaleString("en")} notifications`)
const accepting = performance.now()
let next = 0
await Promise.all(
  Array.from({ length: POST_CONCURRENCY }, async () => {
    while (next < COUNT) {
      const i = next++
      const response = await fetch(`${apiUrl}/telegram/notifications`, {
        method: "POST",
        headers: { authorization: `Bearer ${notifyKey}`, "content-type": "application/json" },
        body: JSON.stringify({
          user_id: people[i],
          text: `Broadcast ${i}: your reading is ready.`,
        }),
      })
      if (response.status !== 202) throw new Error(`POST answered ${response.status}`)
    }
  }),
)
const acceptedPerSecond = COUNT / ((performance.now() - accepting) / 1000)

const standIn = await startBotApiStandIn({ floodLimits: true })
const sentAt = new Map<number, number>()
const stamps: number[] = []
let duplicated = 0
let unflagged = 0
standIn.onCall((call: RecordedCall) => {
  if (call.method !== "sendMessage" || call.status !== 200) return
  const chat = Number(call.params.chat_id)
  if (sentAt.has(chat)) duplicated++
  if (call.params.allow_paid_broadcast !== true) unflagged++
  const now = performance.now()
  sentAt.set(chat, now)
  stamps.push(now)
})
const bot = createBot({
  config: {
    token: standIn.token,
    rateLimit: 20,
    telegramApiRoot: standIn.url,
    heartbeatFile: undefined,
  },
  api: createApiClient({ baseUrl: apiUrl, serviceKey, logger }),
  logger,
  deliveries: true,
  broadcast: createBroadcastMode({ paid: true, rate: RATE, logger }),
})

const backends = async () =>
  (await throwaway.admin`select pid from pg_stat_activity where datname = ${throwaway.name}`).map(
    (r) => r.pid as number,
  )
const pgCpu = async () => {
  let ms = 0
  for (const pid of await backends()) ms += cpuMs(pid)
  return ms
}
progress("delivering")
const pgBefore = await pgCpu()
const cpuBefore = process.cpuUsage()
await bot.start()
const deadline = performance.now() + 60_000 + COUNT * 10
while (sentAt.size < COUNT) {
  if (performance.now() > deadline)
    throw new Error(`paid broadcast: ${sentAt.size} of ${COUNT} sent`)
  await Bun.sleep(50)
}
// Every report landed: nothing left queued or leased.
await Bun.sleep(1_000)
const cpu = process.cpuUsage(cpuBefore)
const pgUsed = (await pgCpu()) - pgBefore
await bot.stop()
await standIn.close()
await cleanup.run()

const pipeline = rateOf(stamps)
const lost = COUNT - sentAt.size
const us = (c: { user: number; system: number }, n: number) => Math.round((c.user + c.system) / n)
const f = (n: number, digits = 0) => n.toFixed(digits)
const n = COUNT.toLocaleString("en")
console.log(`## Paid broadcast (issue 20)

${n} notifications to ${n} chats, accepted beforehand (${f(acceptedPerSecond)}/s, 16 POSTs at a time), delivered by the bot with \`TELEGRAM_PAID_BROADCAST=true\`, \`TELEGRAM_BROADCAST_RATE=${RATE}\` against the stand-in's paid limits (1,000 a second, 1 a second to a chat, 429 beyond); API, bot and stand-in in one process (\`bench/paid-broadcast.ts\`), Postgres. The bare sender (a \`Bun.serve\` stand-in and a loop that fetches sendMessage as fast as the limit allows) ran first in the same process.

| | messages/s sustained | busiest second | 429s | lost | duplicated | CPU µs/message |
| --- | ---: | ---: | ---: | ---: | ---: | --- |
| bare sender | ${f(bare.perSecond)} | ${bare.busiest} | ${bare.refused} | – | – | ${us(bareCpu, COUNT)} (one process) |
| our pipeline | **${f(pipeline.perSecond)}** (${f(pipeline.perSecond / bare.perSecond, 2)}× bare) | ${pipeline.busiest} | ${standIn.floodRefusals} | ${lost} | ${duplicated} | ${us(cpu, COUNT)} API+bot+stand-in process, ${Math.round((pgUsed * 1000) / COUNT)} Postgres |

${unflagged ? `${unflagged} deliveries went WITHOUT allow_paid_broadcast.` : "Every delivery carried allow_paid_broadcast."} Delivered over ${f(pipeline.seconds, 1)} s.`)
process.exit(0)
