// The load generator, in its own process so it never shares a CPU budget or an event loop with a
// server under test: autocannon (a maintained HTTP benchmarking tool) with `connections` keep-alive
// connections for `seconds`, then one JSON line on stdout. Latencies come from autocannon's own
// per-response timings, kept whole so percentiles are exact (its histogram rounds to whole ms).
// Usage: bun bench/load.ts <spec.json>
import autocannon from "autocannon"

export interface LoadSpec {
  origin: string
  connections: number
  seconds: number
  headers: Record<string, string>
  /** Requests per second over all connections (default: as fast as the server answers). */
  rate?: number
  /** GET these paths in turn. */
  paths?: string[]
  /** Or POST /api/telegram/link for chat ids firstChatId, firstChatId + 1, … with these keys. */
  link?: { firstChatId: number; userKeys: string[] }
  /** Or POST /api/telegram/notifications to these users in turn (a notify key in `headers`). */
  notify?: { usernames: string[] }
}

export interface LoadResult {
  requests: number
  reqPerSec: number
  p50: number
  p99: number
  errors: number
  statuses: Record<string, number>
}

export const percentile = (sorted: ArrayLike<number>, p: number) =>
  sorted.length === 0
    ? 0
    : (sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0)

if (import.meta.main) {
  const specPath = process.argv[2]
  if (!specPath) throw new Error("usage: bun bench/load.ts <spec.json>")
  const spec = (await Bun.file(specPath).json()) as LoadSpec
  let n = 0
  const { paths, link, notify } = spec
  const notifyRequest = (usernames: string[]): autocannon.Request => ({
    method: "POST",
    path: "/api/telegram/notifications",
    setupRequest: (req) => {
      const i = n++
      const username = usernames[i % usernames.length]
      return { ...req, body: JSON.stringify({ username, text: `bench notification ${i}` }) }
    },
  })
  const request: autocannon.Request = paths
    ? {
        method: "GET",
        setupRequest: (req) => ({ ...req, path: paths[n++ % paths.length] as string }),
      }
    : notify
      ? notifyRequest(notify.usernames)
      : {
          method: "POST",
          path: "/api/telegram/link",
          setupRequest: (req) => {
            const i = n++
            const keys = link?.userKeys ?? []
            return {
              ...req,
              body: JSON.stringify({
                telegram_chat_id: (link?.firstChatId ?? 0) + i,
                telegram_username: `bench_${i}`,
                api_key: keys[i % keys.length],
              }),
            }
          },
        }

  let latencies = new Float64Array(1 << 20)
  let count = 0
  const instance = autocannon(
    {
      url: spec.origin,
      connections: spec.connections,
      duration: spec.seconds,
      ...(spec.rate && { overallRate: spec.rate }),
      headers: { "content-type": "application/json", ...spec.headers },
      requests: [request],
    },
    (error, result) => {
      if (error) throw error
      const sorted = latencies.subarray(0, count).sort()
      const out: LoadResult = {
        requests: count,
        reqPerSec: Math.round(result["2xx"] / result.duration),
        p50: percentile(sorted, 0.5),
        p99: percentile(sorted, 0.99),
        errors: result.errors + result.timeouts + result.non2xx,
        statuses: Object.fromEntries(
          Object.entries(result.statusCodeStats ?? {}).map(([code, s]) => [code, s.count ?? 0]),
        ),
      }
      console.log(JSON.stringify(out))
    },
  )
  instance.on("response", (_client, _status, _bytes, responseTime) => {
    if (count === latencies.length) {
      const bigger = new Float64Array(latencies.length * 2)
      bigger.set(latencies)
      latencies = bigger
    }
    latencies[count++] = responseTime
  })
}
