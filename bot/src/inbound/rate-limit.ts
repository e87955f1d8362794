// Per-chat sliding-window limiter (seed Phase 3, scenario 4). Synchronous check-and-record, so
// concurrent handlers can never both take the last slot. Memory stays bounded: idle chats are
// swept every `cleanupEvery` hits, and past `maxKeys` the least recently active chat is evicted.

export type Verdict =
  /** Under the limit: handle the message. */
  | "allowed"
  /** First message over the limit since the chat was last allowed: say "slow down" once. */
  | "limited"
  /** Still over the limit and already told: stay silent. */
  | "silenced"

export interface RateLimiter {
  hit(key: string | number): Verdict
  /** Number of chats currently tracked. */
  readonly size: number
  /** Forget every chat whose window has fully expired. */
  sweep(): void
}

export interface RateLimiterOptions {
  /** Messages allowed per window. */
  limit: number
  windowMs?: number
  /** Milliseconds clock; inject a fake one in tests. */
  now?: () => number
  maxKeys?: number
  cleanupEvery?: number
}

interface Entry {
  /** Times of allowed messages inside the window, oldest first (at most `limit`). */
  stamps: number[]
  notified: boolean
}

export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const { limit, windowMs = 60_000, now = Date.now, maxKeys = 10_000, cleanupEvery = 100 } = options
  // Map iteration order is insertion order; re-inserting on every hit keeps it least-recent first.
  const entries = new Map<string, Entry>()
  let hits = 0

  const expire = (entry: Entry, at: number) => {
    const cutoff = at - windowMs
    let drop = 0
    while (drop < entry.stamps.length && (entry.stamps[drop] ?? 0) <= cutoff) drop++
    if (drop > 0) entry.stamps.splice(0, drop)
  }

  const sweep = () => {
    const at = now()
    for (const [key, entry] of entries) {
      expire(entry, at)
      // Least-recent first: once one chat is still active, every later one is too.
      if (entry.stamps.length > 0) break
      entries.delete(key)
    }
  }

  return {
    get size() {
      return entries.size
    },
    sweep,
    hit(rawKey) {
      const key = String(rawKey)
      const at = now()
      if (++hits % cleanupEvery === 0) sweep()

      let entry = entries.get(key)
      if (entry) entries.delete(key)
      else entry = { stamps: [], notified: false }
      entries.set(key, entry)
      while (entries.size > maxKeys) {
        const oldest = entries.keys().next().value
        if (oldest === undefined) break
        entries.delete(oldest)
      }

      expire(entry, at)
      if (entry.stamps.length < limit) {
        entry.stamps.push(at)
        entry.notified = false
        return "allowed"
      }
      if (entry.notified) return "silenced"
      entry.notified = true
      return "limited"
    },
  }
}
