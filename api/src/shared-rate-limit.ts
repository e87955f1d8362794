// Brute-force limits shared by every API replica (REDIS_URL): the same fixed window as
// rate-limit.ts, counted in Redis by one atomic script, so "10 login attempts a minute per
// address" holds across replicas. While Redis is unavailable each replica counts alone in its own
// memory — fail open, to the replica: logins and links keep working (a Redis outage must not
// lock every user out), and an attacker gains at most replicas × the limit meanwhile.
//
// That bound must hold across the switch, both ways, so the replica's own memory counts every
// hit, Redis up or not: when Redis goes away the replica's window already holds its hits (no
// fresh window), and when Redis comes back empty (restarted, nothing persisted) the replica
// still refuses what its own window refuses.
import { defineScript, type SharedRedis, sharedOrLocal } from "@nps/redis"
import type { RateLimit, Verdict } from "./rate-limit"

/** What a route needs of a limiter: the in-memory one is one, and so is the shared one. */
export interface Limiter {
  hit(key: string): Verdict | Promise<Verdict>
}

// KEYS[1]: the window's counter. ARGV[1]: the window (ms). The window starts at the first hit.
const HIT = defineScript(`
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return { count, ttl }
`)

export function createSharedRateLimiter(options: {
  redis: SharedRedis
  /** Which limit: part of the key (login, link). */
  name: string
  limit: RateLimit
  /** Used while Redis is unavailable. */
  local: Limiter
}): Limiter {
  const { redis, name, limit, local } = options
  return {
    async hit(key) {
      const own = await local.hit(key)
      return sharedOrLocal(
        async (): Promise<Verdict> => {
          const [count, ttlMs] = (await redis.run(
            HIT,
            [redis.key("api", "limit", name, key)],
            [limit.windowMs],
          )) as [number, number]
          if (count > limit.max)
            return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(ttlMs / 1000)) }
          // This replica's own hits alone are over the limit: Redis lost count (restarted).
          return own
        },
        () => own,
      )
    },
  }
}
