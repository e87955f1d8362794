/**
 * Fixed-window counters for brute-force protection (login, link). Memory is bounded: expired
 * windows are swept as the map grows, and past `maxKeys` the oldest entries are evicted.
 */
export interface RateLimit {
  max: number
  windowMs: number
}

export type Verdict = { ok: true } | { ok: false; retryAfterSeconds: number }

export function createRateLimiter(
  { max, windowMs }: RateLimit,
  now: () => number,
  maxKeys = 10_000,
) {
  const windows = new Map<string, { start: number; count: number }>()

  const sweep = (t: number) => {
    for (const [key, w] of windows) if (t - w.start >= windowMs) windows.delete(key)
    // Maps iterate in insertion order, so the first keys are the oldest windows.
    for (const key of windows.keys()) {
      if (windows.size <= maxKeys) break
      windows.delete(key)
    }
  }

  return {
    hit(key: string): Verdict {
      const t = now()
      let w = windows.get(key)
      if (!w || t - w.start >= windowMs) {
        windows.delete(key)
        if (windows.size >= maxKeys) sweep(t)
        w = { start: t, count: 0 }
        windows.set(key, w)
      }
      w.count++
      if (w.count <= max) return { ok: true }
      return {
        ok: false,
        retryAfterSeconds: Math.max(1, Math.ceil((w.start + windowMs - t) / 1000)),
      }
    },
    get size() {
      return windows.size
    },
  }
}

/** The peer address Bun saw; "local" for in-process requests (app.handle) that have none. */
export function clientAddress(request: Request, server: unknown): string {
  const s = server as { requestIP?: (r: Request) => { address: string } | null } | null
  return s?.requestIP?.(request)?.address ?? "local"
}
