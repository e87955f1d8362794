// The per-chat limit shared by every bot replica (REDIS_URL): the same sliding window as
// rate-limit.ts, kept in Redis and checked-and-recorded in one Lua script, so TELEGRAM_RATE_LIMIT
// messages a minute is exact for a chat however many replicas serve it, and "Slow down" is said
// once per window across them. While Redis is unavailable each replica falls back to its own
// in-memory window: still limited, at most replicas × the limit (fail open, to the replica).
// The replica's own window counts every message, Redis up or not, so that bound holds across the
// switch both ways: no fresh window when Redis freezes mid-burst, nor when it comes back empty.
import { defineScript, type SharedRedis, sharedOrLocal } from "@nps/redis"
import { createRateLimiter, type Verdict } from "./rate-limit"

/** What the bot's rate-limit middleware needs: the in-memory limiter is one, so is this. */
export interface ChatLimiter {
  hit(key: string | number): Verdict | Promise<Verdict>
}

// KEYS: the chat's sorted set of allowed messages (score = time), its "told to slow down" flag.
// ARGV: now (ms), window (ms), limit, a member unique to this message.
const HIT = defineScript(`
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
  redis.call('DEL', KEYS[2])
  return 'allowed'
end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', window) then return 'limited' end
return 'silenced'
`)

export interface SharedChatLimiterOptions {
  redis: SharedRedis
  /** Keys are per bot: two bots on one Redis keep their own limits. */
  botId: string | number
  limit: number
  windowMs?: number
  /** Milliseconds clock (each replica's; NTP keeps them within a few ms of each other). */
  now?: () => number
}

export function createSharedChatLimiter(options: SharedChatLimiterOptions): ChatLimiter {
  const { redis, botId, limit, windowMs = 60_000, now = Date.now } = options
  const local = createRateLimiter({ limit, windowMs, now })
  return {
    hit(chat) {
      const own = local.hit(chat)
      return sharedOrLocal(
        async () => {
          const at = now()
          const verdict = (await redis.run(
            HIT,
            [redis.key("bot", botId, "rate", chat), redis.key("bot", botId, "rate", chat, "told")],
            [at, windowMs, limit, `${at}:${crypto.randomUUID()}`],
          )) as Verdict
          // Redis's word when it refuses; else this replica's own window (Redis lost count).
          return verdict === "allowed" ? own : verdict
        },
        () => own,
      )
    },
  }
}
