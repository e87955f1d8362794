// `bun run bench`: the product's performance on this machine, every figure the median of several
// runs, printed as Markdown and written to bench/results.md. Needs only a local Postgres:
// BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) is where a throwaway
// database is created and, at the end, dropped. BENCH_RUNS (3) and BENCH_SECONDS (5) size it;
// BENCH_ONLY=status,link,bot,startup,delivery,accept,paid,lease runs a subset (printed, not written to results.md);
// BENCH_CPU_PROF=<dir> runs the API and the reference under Bun's CPU profiler.
import { mkdtempSync, rmSync } from "node:fs"
import { availableParallelism, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { answerCommandLine } from "../api/src/cli"
import { acceptScenario } from "./accept"
import { type BotRun, PHASES, runBot } from "./bot"
import { createCleanup } from "./cleanup"
import { createBenchDatabase, USERS } from "./database"
import type { LoadResult } from "./load"
import { cpuMs, peakRssMb, ROOT, runLoad, type Server, startApi, startReference } from "./processes"

// --help, or an option it does not know, before a database or a process is touched.
answerCommandLine(
  {
    usage: "bun run bench",
    description: `The benchmarks, each beside a bare reference measured in the same run, printed as Markdown
and written to bench/results.md (about 15 minutes; a subset is printed only). Needs a local
Postgres; creates a throwaway database there and drops it at the end, on Ctrl-C and on SIGTERM.

  BENCH_DATABASE_URL  where the throwaway database is made (default
                      postgres://postgres@127.0.0.1:5432/postgres)
  BENCH_RUNS          runs per figure, the median reported (default 3)
  BENCH_SECONDS       seconds per run (default 5)
  BENCH_ONLY          a subset: status,link,bot,startup,delivery,accept,paid,lease
                      (delivery, paid and lease alone seed nothing: each makes its own)
  BENCH_PAID_COUNT    paid broadcast size (default 5,000; 20,000 with BENCH_FULL=1)
  BENCH_LEASES        timed leases over 100,000 queued deliveries (default 300)
  BENCH_CPU_PROF      a directory: run the servers under bun --cpu-prof`,
    options: {},
  },
  "bench",
  "bun run bench --help",
)

const ADMIN_URL = process.env.BENCH_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres"
const RUNS = Number(process.env.BENCH_RUNS || 3)
const SECONDS = Number(process.env.BENCH_SECONDS || 5)
const SCENARIOS = ["status", "link", "bot", "startup", "delivery", "accept", "paid", "lease"]
const ONLY = new Set((process.env.BENCH_ONLY || SCENARIOS.join(",")).split(","))
/** Scenarios run as a process of their own, on a database of their own. */
const OWN_PROCESS: Record<string, string> = {
  delivery: "bench/delivery.ts",
  paid: "bench/paid-broadcast.ts",
  lease: "bench/lease.ts",
}
const CONNECTIONS = [1, 32, 128]
const LINK_CONNECTIONS = 32

const progress = (text: string) => process.stderr.write(`bench: ${text}\n`)
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2
}
const med = <T>(runs: T[], pick: (r: T) => number) => median(runs.map(pick))
const sum = <T>(runs: T[], pick: (r: T) => number) => runs.reduce((n, r) => n + pick(r), 0)
const int = (n: number) => Math.round(n).toLocaleString("en-US")
const ms = (n: number) => n.toFixed(n < 10 ? 2 : 1)
const mb = (n: number) => n.toFixed(0)
const thousands = (n: number) => n.toLocaleString("en-US")

const loadBefore = loadavg()
// Ctrl-C, SIGTERM (a `timeout` around the run) or the end: the servers and the delivery
// benchmark stop, then the throwaway database goes — even one still being seeded.
const cleanup = createCleanup(progress)
// Only scenarios with databases of their own: the shared data set is not seeded for them.
if ([...ONLY].every((s) => s in OWN_PROCESS)) {
  try {
    const sections: string[] = []
    for (const s of SCENARIOS.filter((s) => ONLY.has(s)))
      sections.push((await deliveryScenario(OWN_PROCESS[s])).join("\n"))
    console.log(sections.join("\n\n"))
  } finally {
    await cleanup.run()
  }
  process.exit(0)
}
const work = mkdtempSync(join(tmpdir(), "nps-bench-"))
cleanup.add(() => rmSync(work, { recursive: true, force: true }))
progress(`seeding ${thousands(USERS)} users in a throwaway database`)
const data = await createBenchDatabase(ADMIN_URL, cleanup)
const servers: Server[] = []
cleanup.add(() => Promise.allSettled(servers.map((s) => s.stop())))

const headers = { authorization: `Bearer ${data.serviceKey}` }
const paths = data.chats.map((id) => `/api/telegram/status/${id}`)
const statusLoad = (server: Server, connections: number, seconds = SECONDS) =>
  runLoad({ origin: server.origin, connections, seconds, headers, paths }, join(work, "load.json"))

interface Measured extends LoadResult {
  /** CPU per answered request, µs: the server's process, and the Postgres backends serving it. */
  cpuUs: number
  pgUs: number
}

/** A status run with the CPU it cost (only the server under load is busy during it). */
async function measuredStatusLoad(server: Server, connections: number): Promise<Measured> {
  const pgCpu = async () => {
    const pids = await data.backends()
    return new Map(pids.map((pid) => [pid, cpuMs(pid)]))
  }
  const pgBefore = await pgCpu()
  const before = cpuMs(server.pid)
  const result = await statusLoad(server, connections)
  const used = cpuMs(server.pid) - before
  let pgUsed = 0
  for (const [pid, ms] of await pgCpu()) pgUsed += ms - (pgBefore.get(pid) ?? 0)
  const answered = Math.max(1, result.requests)
  return { ...result, cpuUs: (used * 1000) / answered, pgUs: (pgUsed * 1000) / answered }
}

async function statusScenario(api: Server, bare: Server): Promise<string[]> {
  // Both must give the same answers, or the comparison means nothing.
  for (const path of [...paths.slice(0, 20), "/api/telegram/status/-42"]) {
    const [a, b] = await Promise.all(
      [api, bare].map((s) => fetch(s.origin + path, { headers }).then((r) => r.text())),
    )
    if (a !== b) throw new Error(`API and reference disagree on ${path}: ${a} vs ${b}`)
  }
  progress("warming up both servers")
  await statusLoad(api, 32, 3)
  await statusLoad(bare, 32, 3)

  const rows: string[] = []
  const cpuRows: string[] = []
  for (const connections of CONNECTIONS) {
    const runs = { api: [] as Measured[], bare: [] as Measured[] }
    for (let run = 0; run < RUNS; run++) {
      // Alternate who goes first, so drift in the machine's load hits both alike.
      const order = run % 2 === 0 ? (["api", "bare"] as const) : (["bare", "api"] as const)
      for (const which of order) {
        progress(`status, ${connections} connections, run ${run + 1}/${RUNS}, ${which}`)
        runs[which].push(await measuredStatusLoad(which === "api" ? api : bare, connections))
      }
    }
    const a = med(runs.api, (r) => r.reqPerSec)
    const b = med(runs.bare, (r) => r.reqPerSec)
    const cells = (rs: LoadResult[], reqPerSec: number, pid: number) =>
      [
        int(reqPerSec),
        ms(med(rs, (r) => r.p50)),
        ms(med(rs, (r) => r.p99)),
        sum(rs, (r) => r.errors),
        mb(peakRssMb(pid)),
      ].join(" | ")
    rows.push(
      `| ${connections} | ${cells(runs.api, a, api.pid)} | ${cells(runs.bare, b, bare.pid)} | **${(a / b).toFixed(2)}** | ${loadavg()[0]?.toFixed(1)} |`,
    )
    const cpu = (rs: Measured[]) =>
      `${int(med(rs, (r) => r.cpuUs))} | ${int(med(rs, (r) => r.pgUs))}`
    cpuRows.push(`| ${connections} | ${cpu(runs.api)} | ${cpu(runs.bare)} |`)
  }
  return [
    "## `GET /api/telegram/status/:chat_id`",
    "",
    "Beside the bare ceiling measured in the same run: `Bun.serve` + postgres.js answering the same request (key check and status) with one prepared statement, `bench/reference.ts`. Runs alternate between the two. Errors are summed over the runs; peak RSS is the process's high-water mark up to that row; the load average (1 min, other work on the machine included) is read at the end of the row — the benchmark alone keeps about 3 processes busy, and tail latencies mean little when the load is well above nproc.",
    "",
    "| connections | API req/s | p50 ms | p99 ms | errors | peak RSS MB | bare req/s | p50 ms | p99 ms | errors | peak RSS MB | API / bare | load avg |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows,
    "",
    "CPU per request, µs (user + system, from /proc; Postgres: the backends serving the bench database):",
    "",
    "| connections | API process | its Postgres | bare process | its Postgres |",
    "| ---: | ---: | ---: | ---: | ---: |",
    ...cpuRows,
  ]
}

async function linkScenario(api: Server): Promise<string[]> {
  const runs: LoadResult[] = []
  for (let run = 0; run < RUNS; run++) {
    progress(`link, run ${run + 1}/${RUNS}`)
    const spec = {
      origin: api.origin,
      connections: LINK_CONNECTIONS,
      seconds: SECONDS,
      // The bot's call: its service key in the header, the user's key in the body.
      headers,
      link: { firstChatId: 7_000_000_000_000 + run * 10_000_000, userKeys: data.userKeys },
    }
    runs.push(await runLoad(spec, join(work, "load.json")))
  }
  return [
    "## `POST /api/telegram/link`",
    "",
    `A new chat on every request, ${LINK_CONNECTIONS} connections, the service key in \`Authorization\` and a user's key in the body.`,
    "",
    "| req/s | p50 ms | p99 ms | errors |",
    "| ---: | ---: | ---: | ---: |",
    `| ${int(med(runs, (r) => r.reqPerSec))} | ${ms(med(runs, (r) => r.p50))} | ${ms(med(runs, (r) => r.p99))} | ${sum(runs, (r) => r.errors)} |`,
  ]
}

async function botScenario(
  api: Server,
  apiLogFile: string,
): Promise<{ lines: string[]; runs: BotRun[] }> {
  const runs: BotRun[] = []
  for (let run = 0; run < RUNS; run++) {
    progress(`bot pipeline, run ${run + 1}/${RUNS}`)
    const logFile = join(work, `bot-${run}.log`)
    runs.push(
      await runBot({
        apiOrigin: api.origin,
        serviceKey: data.serviceKey,
        chats: data.chats,
        logFile,
        apiLogFile,
        burst: run === RUNS - 1,
      }),
    )
  }
  const phaseRows = PHASES.map((phase, i) => {
    const rs = runs.map((r) => r.phases[i] as NonNullable<BotRun["phases"][number]>)
    return `| ${phase.atOnce} every ${phase.everyMs} ms | ${int(med(rs, (r) => r.updatesPerSec))} | ${ms(med(rs, (r) => r.p50))} | ${ms(med(rs, (r) => r.p99))} | ${ms(med(rs, (r) => r.addedP50))} | ${ms(med(rs, (r) => r.addedP99))} | ${int(med(rs, (r) => r.cpuUs))} | ${sum(rs, (r) => r.errors)} |`
  })
  const burst = runs.at(-1)?.burst
  const lines = [
    "## Bot pipeline",
    "",
    `\`bun bot/src/main.ts\` as its image runs it (\`BUN_JSC_useJIT=0\`, \`NODE_ENV=production\`, \`LOG_LEVEL=info\`) between the Bot API stand-in and the API above. \`/status\` from distinct linked chats (${PHASES.map((p) => `${thousands(p.chats)} chats ${p.atOnce} at a time, a group every ${p.everyMs} ms`).join("; then ")}: offered inside Telegram's 30 replies a second, which the bot keeps to), each timed from the update leaving the stand-in in a \`getUpdates\` answer to the reply's \`sendMessage\` reaching it. "Bot's share" subtracts the time the API spent on the call (its request log); at this pace every hop wakes an idle process, so it is mostly waiting, and "bot CPU" (the bot process's user + system time per update, from /proc) is its own work.`,
    "",
    "| offered | updates/s | p50 ms | p99 ms | bot's share p50 ms | bot's share p99 ms | bot CPU µs/update | errors |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...phaseRows,
    ...(burst
      ? [
          "",
          `Then \`/status\` from all ${thousands(burst.chats)} chats queued at once (one run): replied to at ${ms(burst.perSec)} a second, Telegram's limit; the bot's resident memory after them ${mb(burst.rssMb)} MB (peak ${mb(burst.peakRssMb)} MB).`,
        ]
      : []),
  ]
  return { lines, runs }
}

async function startupScenario(botRuns: BotRun[]): Promise<string[]> {
  // A fresh API process each time, beside the one already running.
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
  return [
    "## Start-up",
    "",
    "| process | ready when | ms |",
    "| --- | --- | ---: |",
    `| API (\`bun api/src/main.ts\`, Postgres) | \`/api/health\` answers 200 | ${int(median(apiStarts))} |`,
    ...(botRuns.length > 0
      ? [
          `| bot (\`bun bot/src/main.ts\`, JIT off) | its first \`getUpdates\` is parked | ${int(med(botRuns, (r) => r.startupMs))} |`,
        ]
      : []),
  ]
}

/** A scenario in a process of its own (delivery: API, bot and stand-in in it), its lines. */
async function deliveryScenario(script = "bench/delivery.ts"): Promise<string[]> {
  progress(`notification delivery: ${script}`)
  const child = Bun.spawn(["bun", script], {
    cwd: ROOT,
    env: { ...process.env, BENCH_DATABASE_URL: ADMIN_URL },
    stdout: "pipe",
    stderr: "inherit",
  })
  // Its own throwaway database is its to drop: stop it, and wait until it has.
  cleanup.add(async () => {
    if (child.exitCode === null) child.kill("SIGTERM")
    await child.exited
  })
  const output = await new Response(child.stdout).text()
  if ((await child.exited) !== 0) throw new Error(`${script} failed`)
  return output.trim().split("\n")
}

function header(): string[] {
  const git = (...args: string[]) =>
    Bun.spawnSync(["git", ...args], { cwd: ROOT })
      .stdout.toString()
      .trim()
  const dirty = git("status", "--porcelain", "--", ".", ":!bench/results.md") ? "+dirty" : ""
  const pg = Bun.spawnSync(["psql", ADMIN_URL, "-Atc", "show server_version"])
    .stdout.toString()
    .trim()
  const loadAfter = loadavg()
  return [
    "# Benchmark results",
    "",
    `${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC · commit \`${git("rev-parse", "--short", "HEAD")}${dirty}\` · nproc ${availableParallelism()} · Bun ${Bun.version} · Postgres ${pg.split(" ")[0] || "?"} · load average ${loadBefore[0]?.toFixed(2)} at start, ${loadAfter[0]?.toFixed(2)} at end`,
    "",
    `Written by \`bun run bench\`. Every figure is the median of ${RUNS} runs of ${SECONDS} s. The load comes from autocannon in its own process; the API is \`bun api/src/main.ts\` with production settings (\`NODE_ENV=production\`, \`LOG_LEVEL=info\`, its log going to a file) on a throwaway Postgres database holding ${thousands(USERS)} users with linked chats (ids beyond ±2^31, both signs), Oracle profiles and readings.`,
  ]
}

try {
  const apiLog = join(work, "api.log")
  const api = await startApi({
    databaseUrl: data.url,
    serviceKey: data.serviceKey,
    logFile: apiLog,
  })
  servers.push(api)
  const sections: string[][] = []
  let bare: Server | undefined
  const reference = async () => {
    bare ??= await startReference(data.url)
    if (!servers.includes(bare)) servers.push(bare)
    return bare
  }
  if (ONLY.has("status")) sections.push(await statusScenario(api, await reference()))
  if (ONLY.has("link")) sections.push(await linkScenario(api))
  let botRuns: BotRun[] = []
  if (ONLY.has("bot")) {
    const bot = await botScenario(api, apiLog)
    botRuns = bot.runs
    sections.push(bot.lines)
  }
  if (ONLY.has("startup")) sections.push(await startupScenario(botRuns))
  if (ONLY.has("delivery")) sections.push(await deliveryScenario(OWN_PROCESS.delivery))
  if (ONLY.has("accept")) {
    const ceiling = await reference()
    sections.push(
      await acceptScenario({
        api,
        bare: ceiling,
        notifyKey: data.notifyKey,
        usernames: Array.from({ length: USERS }, (_, i) => `bench_user_${i}`),
        runs: RUNS,
        seconds: SECONDS,
        work,
        progress,
        bareLoad: async (connections) => statusLoad(ceiling, connections),
        median,
      }),
    )
  }
  if (ONLY.has("paid")) sections.push(await deliveryScenario(OWN_PROCESS.paid))
  if (ONLY.has("lease")) sections.push(await deliveryScenario(OWN_PROCESS.lease))

  const report = [header(), ...sections].map((lines) => lines.join("\n")).join("\n\n")
  if (SCENARIOS.every((s) => ONLY.has(s))) {
    const file = join(ROOT, "bench", "results.md")
    await Bun.write(file, `${report}\n`)
    // The repository's formatter aligns the tables (and keeps `bun run lint` clean).
    Bun.spawnSync(["bun", "x", "biome", "format", "--write", file], { cwd: ROOT })
    console.log(await Bun.file(file).text())
    progress("wrote bench/results.md")
  } else console.log(report)
} finally {
  await cleanup.run()
}
