// `bun run bench`: throughput and latency of the bot's hottest call, GET /api/telegram/status,
// over real HTTP. Uses BENCH_DATABASE_URL (a throwaway database is created in it) or PGlite.
import { createDb, migrate, oracleProfiles, readings, telegramLinks, users } from "@nps/db"
import { createLogger } from "@nps/log"
import postgres from "postgres"
import { createApp } from "../src/app"
import { ensureServiceKey } from "../src/bootstrap"
import { loadConfig } from "../src/config"
import { generateApiKey } from "../src/credentials"

const CHATS = 1_000
const DURATION_MS = Number(process.env.BENCH_SECONDS ?? 5) * 1000
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32)

const adminUrl = process.env.BENCH_DATABASE_URL
let dropDatabase = async () => {}
let target: Parameters<typeof createDb>[0] = { memory: true }
if (adminUrl) {
  const name = `nps_bench_${Date.now()}`
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${name}`)
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  target = { url: url.toString(), max: CONCURRENCY }
  dropDatabase = async () => {
    await admin.unsafe(`drop database ${name} with (force)`)
    await admin.end()
  }
}

const database = await createDb(target)
const { db } = database
await migrate(db)
const serviceKey = generateApiKey()
await ensureServiceKey(db, serviceKey)
const people = await db
  .insert(users)
  .values(Array.from({ length: CHATS }, (_, i) => ({ username: `user${i}`, passwordHash: "x" })))
  .returning({ id: users.id })
await db
  .insert(telegramLinks)
  .values(people.map((u, i) => ({ telegramChatId: -1_000_000_000_000 - i, userId: u.id })))
await db
  .insert(oracleProfiles)
  .values(
    people.flatMap((u) =>
      [1, 2].map((n) => ({ userId: u.id, name: `p${n}`, birthday: "1990-01-01" })),
    ),
  )
await db.insert(readings).values(people.flatMap((u) => [1, 2, 3].map(() => ({ userId: u.id }))))

const logger = createLogger({ service: "api", level: "warn" })
const app = createApp({
  db,
  config: loadConfig({ JWT_SECRET: "bench-secret-0123456789" }),
  logger,
}).listen({
  hostname: "127.0.0.1",
  port: 0,
})
const base = `http://127.0.0.1:${app.server?.port}/api/telegram/status/`
const headers = { authorization: `Bearer ${serviceKey}` }

const latencies: number[] = []
let errors = 0
const deadline = performance.now() + DURATION_MS
await Promise.all(
  Array.from({ length: CONCURRENCY }, async (_, worker) => {
    for (let i = worker; performance.now() < deadline; i += CONCURRENCY) {
      const start = performance.now()
      const res = await fetch(base + (-1_000_000_000_000 - (i % CHATS)), { headers })
      const body = (await res.json()) as { linked?: boolean }
      if (res.status !== 200 || body.linked !== true) errors++
      latencies.push(performance.now() - start)
    }
  }),
)
latencies.sort((a, b) => a - b)
const pct = (p: number) =>
  Math.round((latencies[Math.floor((latencies.length - 1) * p)] ?? 0) * 100) / 100
console.log(
  JSON.stringify({
    bench: "GET /api/telegram/status/:chat_id",
    driver: database.driver,
    concurrency: CONCURRENCY,
    requests: latencies.length,
    errors,
    req_per_s: Math.round(latencies.length / (DURATION_MS / 1000)),
    p50_ms: pct(0.5),
    p99_ms: pct(0.99),
    rss_mb: Math.round(process.memoryUsage().rss / 1048576),
  }),
)
await app.stop(true)
await database.close()
await dropDatabase()
