/** Fixed-window counters for brute-force protection (login, link), bounded in memory. */
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

  // A window restart re-inserts its key, so the map is ordered by window start: expired
  // entries sit at the front and a sweep stops at the first live one. At capacity it also
  // evicts the oldest down to 90%, so sweeps are rare and each costs only what it deletes.
  const sweep = (t: number) => {
    const target = Math.floor(maxKeys * 0.9)
    for (const [key, w] of windows) {
      if (t - w.start < windowMs && windows.size <= target) break
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
