// The lease scenario of `bun run bench` (BENCH_ONLY=lease; also runnable alone: `bun
// bench/lease.ts`), issue 17: how long `POST /api/telegram/deliveries/lease` takes, preferences
// applied, with 100,000 deliveries queued. A throwaway Postgres database in BENCH_DATABASE_URL
// gets, set-based, 1,000 users with 10 chats each, a tenth of them with preferences (quiet hours
// now, a category switched off, a mute), and 100,000 + N deliveries; then N leases of the default
// size through the API over HTTP, each followed by a report of `sent` for what it handed out, so
// at least 100,000 stay queued throughout. Prints its Markdown section.
import { createDb, notificationDeliveries as d, migrate } from "@nps/db"
import { createLogger } from "@nps/log"
import { count, eq, sql } from "drizzle-orm"
import { createApp } from "../api/src/app"
import { ensureServiceKey } from "../api/src/bootstrap"
import { loadConfig } from "../api/src/config"
import { generateApiKey } from "../api/src/credentials"
import { createCleanup } from "./cleanup"
import { throwawayDatabase } from "./database"
import { percentile } from "./load"

const LEASES = Number(process.env.BENCH_LEASES ?? 300)
const WARMUP = 20
const USERS = 1_000
const CHATS = 10_000
/** The lease's default size (DEFAULT_MAX in the notifications module). */
const LEASE_SIZE = 50
// Some over: skipped ones leave the queue as well as sent ones.
const QUEUED = 100_000 + (LEASES + WARMUP) * (LEASE_SIZE + 10)
const CHAT_BASE = 600_000_000
const adminUrl = process.env.BENCH_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres"

const progress = (text: string) => process.stderr.write(`bench/lease: ${text}\n`)
const cleanup = createCleanup(progress)
process.once("uncaughtException", (error) => {
  console.error(error)
  void cleanup.run().finally(() => process.exit(1))
})

const throwaway = await throwawayDatabase(adminUrl, "nps_bench_lease", cleanup)
const database = await createDb({ url: throwaway.url, max: 10, queryTimeoutMs: 10_000 })
const { db } = database
await migrate(db)
const serviceKey = generateApiKey()
await ensureServiceKey(db, serviceKey)

progress(`queueing ${QUEUED.toLocaleString("en")} deliveries`)
const seeding = performance.now()
// Quiet hours around now (UTC), so the users who keep them have deliveries held at lease time.
const hour = new Date().getUTCHours()
const hh = (h: number) => `${String((h + 24) % 24).padStart(2, "0")}:00`
const userId = (g: string) => sql.raw(`md5('u' || ${g})::uuid::text`)
await db.execute(sql`insert into users (id, username, password_hash)
  select ${userId("g")}, 'lease_user_' || g, 'x' from generate_series(0, ${USERS - 1}) g`)
// Chat j belongs to user j % USERS.
await db.execute(sql`insert into telegram_links (telegram_chat_id, user_id, language_code)
  select ${CHAT_BASE} + j, ${userId(`(j % ${USERS})`)}, case when j % 3 = 0 then 'ru' else 'en' end
  from generate_series(0, ${CHATS - 1}) j`)
// Users 0–99: thirds with quiet hours now, "promo" switched off, muted for a day.
await db.execute(sql`insert into user_preferences (user_id, time_zone, quiet_start, quiet_end, categories, muted_until)
  select ${userId("g")}, 'UTC',
    case when g % 3 = 0 then ${hh(hour - 1)} end, case when g % 3 = 0 then ${hh(hour + 2)} end,
    case when g % 3 = 1 then '{"general": true, "promo": false}'::jsonb else '{"general": true}'::jsonb end,
    case when g % 3 = 2 then now() + interval '1 day' end
  from generate_series(0, 99) g`)
// Delivery i goes to chat i % CHATS (so the oldest queued ones are mostly chat heads); one in ten
// is a "promo".
const notificationId = sql.raw(`md5('n' || i)::uuid::text`)
await db.execute(sql`insert into notifications (id, user_id, text, status, request_hash, category, created_by)
  select ${notificationId}, ${userId(`(i % ${CHATS} % ${USERS})`)}, 'Your daily Oracle summary is ready.',
    'queued', md5('r' || i), case when i % 10 = 0 then 'promo' else 'general' end, null
  from generate_series(1, ${QUEUED}) i`)
await db.execute(sql`insert into notification_deliveries (notification_id, telegram_chat_id)
  select ${notificationId}, ${CHAT_BASE} + i % ${CHATS} from generate_series(1, ${QUEUED}) i order by i`)
await db.execute(sql`vacuum analyze`)
const seededIn = (performance.now() - seeding) / 1000

const app = createApp({
  db,
  config: loadConfig({ JWT_SECRET: "bench-secret-0123456789" }),
  logger: createLogger({ service: "bench", level: "error" }),
  listen: database.listen,
}).listen({ hostname: "127.0.0.1", port: 0 })
const apiUrl = `http://127.0.0.1:${app.server?.port}/api/telegram/deliveries`
const headers = { authorization: `Bearer ${serviceKey}`, "content-type": "application/json" }

const call = async (path: string, body: unknown) => {
  const response = await fetch(`${apiUrl}/${path}`, {
    method: "POST",
    headers,
    body: JSON.stringify(body),
  })
  if (response.status !== 200) throw new Error(`${path} answered ${response.status}`)
  return response.json()
}

type Lease = { lease_id: string; deliveries: { id: number }[] }
const queued = async () => {
  const [row] = await db.select({ n: count() }).from(d).where(eq(d.status, "queued"))
  return row?.n ?? 0
}

const latencies: number[] = []
let leased = 0
for (let i = 0; i < WARMUP + LEASES; i++) {
  if (i === WARMUP)
    progress(`${LEASES} leases over ${(await queued()).toLocaleString("en")} queued`)
  const started = performance.now()
  const lease = (await call("lease", {})) as Lease
  if (i >= WARMUP) latencies.push(performance.now() - started)
  leased += lease.deliveries.length
  if (lease.deliveries.length)
    await call("report", {
      results: lease.deliveries.map((delivery) => ({
        id: delivery.id,
        lease_id: lease.lease_id,
        outcome: "sent",
      })),
    })
}
const queuedAtEnd = await queued()
const [counts] = await db
  .select({
    held: sql<number>`count(*) filter (where ${d.status} = 'queued' and ${d.holdUntil} is not null)::int`,
    skipped: sql<number>`count(*) filter (where ${d.status} = 'skipped')::int`,
  })
  .from(d)

await app.stop()
await database.close()
await cleanup.run()

latencies.sort((a, b) => a - b)
const pct = (p: number) => percentile(latencies, p / 100).toFixed(1)
console.log(`## Lease over 100,000 queued deliveries

\`POST /api/telegram/deliveries/lease\` (default size, ${LEASE_SIZE}; \`wait_seconds\` 0) through the API over HTTP on Postgres, each followed by a report of \`sent\` for what it handed out (not timed), in one process (\`bench/lease.ts\`). The throwaway database held ${QUEUED.toLocaleString("en")} queued deliveries (seeded set-based in ${seededIn.toFixed(1)} s) for ${CHATS.toLocaleString("en")} chats of ${USERS.toLocaleString("en")} users, a tenth of them with preferences applied at lease time (quiet hours now, "promo" switched off, muted); ${queuedAtEnd.toLocaleString("en")} still queued at the end. ${WARMUP} warm-up leases, then ${LEASES} timed: ${leased.toLocaleString("en")} deliveries leased in all, ${counts?.skipped ?? 0} skipped and ${counts?.held ?? 0} held by preferences on the way.

| leases | p50 ms | p95 ms | p99 ms | max ms | target |
| ---: | ---: | ---: | ---: | ---: | --- |
| ${LEASES} | ${pct(50)} | ${pct(95)} | **${pct(99)}** | ${(latencies.at(-1) ?? 0).toFixed(1)} | p99 < 50 ms |`)
process.exit(0)
