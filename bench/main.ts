// `bun run bench`: the product's performance on this machine, every figure the median of several
// runs, printed as Markdown and written to bench/results.md. Needs only a local Postgres:
// BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) is where a throwaway
// database is created and, at the end, dropped. BENCH_RUNS (3) and BENCH_SECONDS (5) size it.
import { mkdtempSync, rmSync } from "node:fs"
import { availableParallelism, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { type BotRun, IN_FLIGHT, PIPELINE_CHATS, runBot } from "./bot"
import { createBenchDatabase, USERS } from "./database"
import type { LoadResult, LoadSpec } from "./load"
import { peakRssMb, ROOT, runLoad, type Server, startApi, startReference } from "./processes"

const ADMIN_URL = process.env.BENCH_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres"
const RUNS = Number(process.env.BENCH_RUNS || 3)
const SECONDS = Number(process.env.BENCH_SECONDS || 5)
const CONNECTIONS = [1, 32, 128]
const LINK_CONNECTIONS = 32

const progress = (text: string) => process.stderr.write(`bench: ${text}\n`)
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2
}
const med = <T>(runs: T[], pick: (r: T) => number) => median(runs.map(pick))
const int = (n: number) => Math.round(n).toLocaleString("en-US")
const ms = (n: number) => n.toFixed(n < 10 ? 2 : 1)
const mb = (n: number) => n.toFixed(0)

const loadBefore = loadavg()
const work = mkdtempSync(join(tmpdir(), "nps-bench-"))
progress(`seeding ${USERS.toLocaleString("en-US")} users in a throwaway database`)
const data = await createBenchDatabase(ADMIN_URL)
const servers: Server[] = []
const stopAll = async () => {
  await Promise.allSettled(servers.map((s) => s.stop()))
  await data.drop()
  rmSync(work, { recursive: true, force: true })
}
process.once("SIGINT", () => void stopAll().then(() => process.exit(130)))

try {
  const api = await startApi({
    databaseUrl: data.url,
    serviceKey: data.serviceKey,
    logFile: join(work, "api.log"),
  })
  const bare = await startReference(data.url)
  servers.push(api, bare)
  const headers = { authorization: `Bearer ${data.serviceKey}` }
  const paths = data.chats.map((id) => `/api/telegram/status/${id}`)

  // Both must give the same answers, or the comparison means nothing.
  for (const path of [...paths.slice(0, 20), "/api/telegram/status/-42"]) {
    const [a, b] = await Promise.all(
      [api, bare].map((s) => fetch(s.origin + path, { headers }).then((r) => r.text())),
    )
    if (a !== b) throw new Error(`API and reference disagree on ${path}: ${a} vs ${b}`)
  }

  const load = (server: Server, connections: number, seconds = SECONDS) =>
    runLoad(
      { origin: server.origin, connections, seconds, headers, paths } satisfies LoadSpec,
      join(work, "load.json"),
    )

  progress("warming up both servers")
  await load(api, 32, 3)
  await load(bare, 32, 3)

  const status: {
    connections: number
    api: LoadResult[]
    bare: LoadResult[]
    apiRss: number
    bareRss: number
  }[] = []
  for (const connections of CONNECTIONS) {
    const row = {
      connections,
      api: [] as LoadResult[],
      bare: [] as LoadResult[],
      apiRss: 0,
      bareRss: 0,
    }
    for (let run = 0; run < RUNS; run++) {
      // Alternate who goes first, so drift in the machine's load hits both alike.
      const order = run % 2 === 0 ? ([api, bare] as const) : ([bare, api] as const)
      for (const server of order) {
        progress(
          `status, ${connections} connections, run ${run + 1}/${RUNS}, ${server === api ? "API" : "bare"}`,
        )
        const result = await load(server, connections)
        ;(server === api ? row.api : row.bare).push(result)
      }
    }
    row.apiRss = peakRssMb(api.pid)
    row.bareRss = peakRssMb(bare.pid)
    status.push(row)
  }

  const link: LoadResult[] = []
  for (let run = 0; run < RUNS; run++) {
    progress(`link, run ${run + 1}/${RUNS}`)
    link.push(
      await runLoad(
        {
          origin: api.origin,
          connections: LINK_CONNECTIONS,
          seconds: SECONDS,
          // The bot's call: its service key in the header, the user's key in the body.
          headers,
          link: { firstChatId: 7_000_000_000_000 + run * 10_000_000, userKeys: data.userKeys },
        },
        join(work, "load.json"),
      ),
    )
  }

  const bot: BotRun[] = []
  for (let run = 0; run < RUNS; run++) {
    progress(`bot pipeline, run ${run + 1}/${RUNS}`)
    bot.push(
      await runBot({
        apiOrigin: api.origin,
        serviceKey: data.serviceKey,
        chats: data.chats,
        logFile: join(work, `bot-${run}.log`),
      }),
    )
  }

  // Start-up: a fresh API process each time, beside the one already running.
  const apiStarts: number[] = []
  for (let run = 0; run < RUNS; run++) {
    progress(`API start-up, run ${run + 1}/${RUNS}`)
    const fresh = await startApi({
      databaseUrl: data.url,
      serviceKey: data.serviceKey,
      logFile: join(work, `api-start-${run}.log`),
    })
    apiStarts.push(fresh.startupMs)
    await fresh.stop()
  }

  // ── Notification delivery ──────────────────────────────────────────────────────────────────
  // Reserved for the notifications issue: POST /api/telegram/notifications for N users and the
  // bot delivering through the stand-in (sent/s, accept→sent p50/p99, Telegram's limits held).
  // Add its runner here and its rows to `notifications` below.
  const notifications: string[] = []

  const commit = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd: ROOT })
    .stdout.toString()
    .trim()
  const dirty = Bun.spawnSync(["git", "status", "--porcelain"], { cwd: ROOT }).stdout.length > 0
  const pgVersion = Bun.spawnSync(["psql", ADMIN_URL, "-Atc", "show server_version"])
    .stdout.toString()
    .trim()
  const loadAfter = loadavg()

  const lines = [
    "# Benchmark results",
    "",
    `${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC · commit \`${commit}${dirty ? "+dirty" : ""}\` · nproc ${availableParallelism()} · Bun ${Bun.version} · Postgres ${pgVersion || "?"} · load average ${loadBefore[0]?.toFixed(2)} before, ${loadAfter[0]?.toFixed(2)} after`,
    "",
    `\`bun run bench\`: every figure is the median of ${RUNS} runs of ${SECONDS} s. Load from autocannon in its own process; the API is \`bun api/src/main.ts\` with production settings (\`NODE_ENV=production\`, \`LOG_LEVEL=info\`, its log written to a file) on a throwaway Postgres database holding ${USERS.toLocaleString("en-US")} users with linked chats (ids beyond ±2^31), profiles and readings.`,
    "",
    "## `GET /api/telegram/status/:chat_id`",
    "",
    "Beside the bare ceiling, measured in the same run: `Bun.serve` + postgres.js answering the same request with one prepared statement (bench/reference.ts). Peak RSS is the process's high-water mark so far.",
    "",
    "| connections | API req/s | p50 ms | p99 ms | errors | peak RSS MB | bare req/s | p50 ms | p99 ms | errors | peak RSS MB | API / bare |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...status.map((row) => {
      const a = med(row.api, (r) => r.reqPerSec)
      const b = med(row.bare, (r) => r.reqPerSec)
      const errors = (rs: LoadResult[]) => rs.reduce((n, r) => n + r.errors, 0)
      return `| ${row.connections} | ${int(a)} | ${ms(med(row.api, (r) => r.p50))} | ${ms(med(row.api, (r) => r.p99))} | ${errors(row.api)} | ${mb(row.apiRss)} | ${int(b)} | ${ms(med(row.bare, (r) => r.p50))} | ${ms(med(row.bare, (r) => r.p99))} | ${errors(row.bare)} | ${mb(row.bareRss)} | **${(a / b).toFixed(2)}** |`
    }),
    "",
    "## `POST /api/telegram/link`",
    "",
    `A new chat on every request, ${LINK_CONNECTIONS} connections, the service key in \`Authorization\` and a user's key in the body.`,
    "",
    "| req/s | p50 ms | p99 ms | errors |",
    "| ---: | ---: | ---: | ---: |",
    `| ${int(med(link, (r) => r.reqPerSec))} | ${ms(med(link, (r) => r.p50))} | ${ms(med(link, (r) => r.p99))} | ${link.reduce((n, r) => n + r.errors, 0)} |`,
    "",
    "## Bot pipeline",
    "",
    `\`bun bot/src/main.ts\` as its image runs it (\`BUN_JSC_useJIT=0\`), the Bot API stand-in and the API above. \`/status\` from ${PIPELINE_CHATS.toLocaleString("en-US")} chats, ${IN_FLIGHT} in flight, timed from the update leaving the stand-in to the reply reaching it; "bot's share" subtracts the API call the bot logged (whole milliseconds). Then \`/status\` from all ${USERS.toLocaleString("en-US")} chats queued at once ("burst"), and the bot's memory after it.`,
    "",
    "| updates/s | p50 ms | p99 ms | bot's share p50 ms | bot's share p99 ms | errors | burst updates/s | RSS after 10,000 chats MB | peak RSS MB |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    `| ${int(med(bot, (r) => r.updatesPerSec))} | ${ms(med(bot, (r) => r.p50))} | ${ms(med(bot, (r) => r.p99))} | ${ms(med(bot, (r) => r.addedP50))} | ${ms(med(bot, (r) => r.addedP99))} | ${bot.reduce((n, r) => n + r.errors, 0)} | ${int(med(bot, (r) => r.burstPerSec))} | ${mb(med(bot, (r) => r.rssMb))} | ${mb(med(bot, (r) => r.peakRssMb))} |`,
    "",
    "## Start-up",
    "",
    "| process | to ready | ms |",
    "| --- | --- | ---: |",
    `| API (\`bun api/src/main.ts\`, Postgres) | \`/api/health\` answers 200 | ${int(med(apiStarts, (x) => x))} |`,
    `| bot (\`bun bot/src/main.ts\`, JIT off) | first \`getUpdates\` parked | ${int(med(bot, (r) => r.startupMs))} |`,
    "",
    "## Notification delivery",
    "",
    ...(notifications.length > 0
      ? notifications
      : ["Not measured yet: arrives with the notifications feature."]),
    "",
  ]
  const report = lines.join("\n")
  console.log(report)
  await Bun.write(join(ROOT, "bench", "results.md"), report)
  progress("wrote bench/results.md")
} finally {
  await stopAll()
}
