// The refused-connections drill (issue 16, defect 5) in a process of its own, as the API runs:
// Bun's node:net leaves stray rejections for refused and reset connects that postgres.js has
// already handled, which `bun test` would count against the test; a real API logs past them.
// Prints one JSON line: { recoveries: [ms until the first 200 after each reopen] }.
import { createDb } from "@nps/db"
import { startRelay } from "@nps/testing/relay"
import { makeApp, openTestDatabase, req } from "../helpers"

const RUNS = Number(process.env.DRILL_RUNS ?? 5)
process.on("unhandledRejection", () => {})

const real = await openTestDatabase("postgres")
const url = new URL(real.url as string)
const relay = startRelay({ hostname: url.hostname, port: Number(url.port || 5432) })
const viaRelay = new URL(url)
viaRelay.hostname = "127.0.0.1"
viaRelay.port = String(relay.port)
const database = await createDb({ url: viaRelay.toString(), max: 10, queryTimeoutMs: 3_000 })
const { app } = makeApp(database.db, { dbStats: database.stats })
const health = () => req(app, "GET", "/api/health")

/** Polls health every 20 ms; ms until the first 200 (-1: not within the limit). */
async function untilServing(limitMs = 30_000) {
  const started = performance.now()
  while (performance.now() - started < limitMs) {
    if ((await health()).status === 200) return Math.round(performance.now() - started)
    await Bun.sleep(20)
  }
  return -1
}

const recoveries: number[] = []
const frozenStatuses = new Set<number>()
try {
  if ((await health()).status !== 200) throw new Error("not serving at the start")
  for (let run = 0; run < RUNS; run++) {
    relay.freeze()
    for (const r of await Promise.all(Array.from({ length: 40 }, health)))
      frozenStatuses.add(r.status)
    relay.thaw()
    if ((await untilServing()) < 0) throw new Error("not serving after the thaw")
    // Refused for 100 ms while 20 clients keep asking.
    relay.close()
    const end = performance.now() + 100
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (performance.now() < end) {
          await health()
          await Bun.sleep(5)
        }
      }),
    )
    relay.reopen()
    recoveries.push(await untilServing())
  }
} finally {
  relay.close()
  await database.close()
  await real.close()
}
console.log(JSON.stringify({ recoveries, frozen: [...frozenStatuses] }))
