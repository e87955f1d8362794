// The accept scenario: how fast the API takes notifications in — batches of 1,000 posted back to
// back by a few senders, and single POSTs at 32 keep-alive connections (autocannon, its own
// process) — beside the bare ceiling (bench/reference.ts) measured in the same run.

import { loadavg } from "node:os"
import { join } from "node:path"
import { type LoadResult, percentile } from "./load"
import { runLoad, type Server } from "./processes"

export const BATCH_SIZE = 1000
/** Batches in flight at once: one parses while another is in Postgres. */
export const BATCH_SENDERS = 2
export const SINGLE_CONNECTIONS = 32

export interface AcceptBench {
  api: Server
  bare: Server
  notifyKey: string
  usernames: string[]
  runs: number
  seconds: number
  work: string
  progress: (text: string) => void
  /** The bare reference's own load (GET status), at `connections`. */
  bareLoad: (connections: number) => Promise<LoadResult>
  median: (xs: number[]) => number
}

interface BatchRun {
  perSec: number
  p50: number
  p99: number
  errors: number
}

/** Batches of 1,000 to distinct users, back to back from BATCH_SENDERS loops, for `seconds`. */
async function batchRun(b: AcceptBench, run: number): Promise<BatchRun> {
  const { usernames } = b
  const url = `${b.api.origin}/api/telegram/notifications/batch`
  const headers = { authorization: `Bearer ${b.notifyKey}`, "content-type": "application/json" }
  const latencies: number[] = []
  let accepted = 0
  let errors = 0
  const started = performance.now()
  const deadline = started + b.seconds * 1000
  await Promise.all(
    Array.from({ length: BATCH_SENDERS }, async (_, sender) => {
      for (let n = 0; performance.now() < deadline; n++) {
        const first = (run * 997 + sender * 5003 + n * BATCH_SIZE) % usernames.length
        const notifications = Array.from({ length: BATCH_SIZE }, (_, i) => ({
          username: usernames[(first + i) % usernames.length],
          text: `bench batch ${run}.${sender}.${n}.${i}`,
        }))
        const t0 = performance.now()
        const res = await fetch(url, {
          method: "POST",
          headers,
          body: JSON.stringify({ notifications }),
        })
        const body = (await res.json()) as { results?: { status: number }[] }
        latencies.push(performance.now() - t0)
        if (res.status !== 200 || !body.results) {
          errors += BATCH_SIZE
          continue
        }
        for (const r of body.results) r.status === 202 ? accepted++ : errors++
      }
    }),
  )
  const seconds = (performance.now() - started) / 1000
  const sorted = latencies.sort((x, y) => x - y)
  return {
    perSec: accepted / seconds,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    errors,
  }
}

export async function acceptScenario(b: AcceptBench): Promise<string[]> {
  const batches: BatchRun[] = []
  const singles: LoadResult[] = []
  const bare: LoadResult[] = []
  const load = loadavg()[0]
  for (let run = 0; run < b.runs; run++) {
    b.progress(`accept, run ${run + 1}/${b.runs}: batches of ${BATCH_SIZE}`)
    batches.push(await batchRun(b, run))
    b.progress(`accept, run ${run + 1}/${b.runs}: single POSTs, ${SINGLE_CONNECTIONS} connections`)
    const spec = {
      origin: b.api.origin,
      connections: SINGLE_CONNECTIONS,
      seconds: b.seconds,
      headers: { authorization: `Bearer ${b.notifyKey}` },
      notify: { usernames: b.usernames },
    }
    singles.push(await runLoad(spec, join(b.work, "accept-load.json")))
    b.progress(
      `accept, run ${run + 1}/${b.runs}: bare reference, ${SINGLE_CONNECTIONS} connections`,
    )
    bare.push(await b.bareLoad(SINGLE_CONNECTIONS))
  }
  const med = <T>(rs: T[], pick: (r: T) => number) => b.median(rs.map(pick))
  const sum = <T>(rs: T[], pick: (r: T) => number) => rs.reduce((n, r) => n + pick(r), 0)
  const int = (n: number) => Math.round(n).toLocaleString("en-US")
  const ms = (n: number) => n.toFixed(n < 10 ? 2 : 1)
  return [
    "## Accepting notifications",
    "",
    `\`POST /api/telegram/notifications/batch\` with ${BATCH_SIZE.toLocaleString("en-US")} items each (distinct users, one linked chat each), ${BATCH_SENDERS} senders posting back to back; \`POST /api/telegram/notifications\` from autocannon at ${SINGLE_CONNECTIONS} connections; and the bare reference (\`bench/reference.ts\`, one prepared statement per \`GET /status\`) at ${SINGLE_CONNECTIONS} connections in the same run, as this machine's ceiling for one authenticated request. Latencies: per batch, per request. Errors: items or requests not answered 202 (2xx for the reference), summed over the runs. Load average (1 min) at the start: ${load?.toFixed(1)}, at the end: ${loadavg()[0]?.toFixed(1)}.`,
    "",
    "| what | notifications/s (req/s) | p50 ms | p99 ms | errors |",
    "| --- | ---: | ---: | ---: | ---: |",
    `| batches of ${BATCH_SIZE.toLocaleString("en-US")} | ${int(med(batches, (r) => r.perSec))} | ${ms(med(batches, (r) => r.p50))} | ${ms(med(batches, (r) => r.p99))} | ${sum(batches, (r) => r.errors)} |`,
    `| single POSTs, ${SINGLE_CONNECTIONS} connections | ${int(med(singles, (r) => r.reqPerSec))} | ${ms(med(singles, (r) => r.p50))} | ${ms(med(singles, (r) => r.p99))} | ${sum(singles, (r) => r.errors)} |`,
    `| bare reference (\`GET /status\`), ${SINGLE_CONNECTIONS} connections | (${int(med(bare, (r) => r.reqPerSec))}) | ${ms(med(bare, (r) => r.p50))} | ${ms(med(bare, (r) => r.p99))} | ${sum(bare, (r) => r.errors)} |`,
  ]
}
