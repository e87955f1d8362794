// The outbound budget shared by every bot replica (REDIS_URL): the same budget as the memory
// store in pacer.ts — Telegram's windows, the deliveries' token bucket, the pause after a 429 —
// kept in Redis under the bot's id, each operation one Lua script, so 30 messages a second is
// the bot token's limit however many replicas send.
//
// While Redis is unavailable each replica paces on its own memory at its share of every limit:
// 1/N, N being the replicas that shared the budget lately (each says so in Redis every few
// seconds). N replicas on their own then stay within Telegram's limits together, and the moment
// Redis answers again the shared budget is back in use.
import type { Logger } from "@nps/log"
import { defineScript, type SharedRedis, sharedOrLocal } from "@nps/redis"
import {
  type BudgetStore,
  memoryBudgetStore,
  type Slot,
  type Take,
  TELEGRAM_CALL_TIMEOUT_MS,
} from "./pacer"

// A key outlives its last use by this much: only garbage collection, never the limit itself
// (that is the scores'), so generous is fine.
const EXPIRY_SLACK_MS = 30_000

// KEYS[1]: the pause (until when, ms). Then two keys per slot: a window's uses counting until
// their score and its uses in flight (score: when a use left by a dead replica stops counting);
// a rate's theoretical time of the next send (GCRA; the second key is unused).
// ARGV: now, the use's id, how long a send may take (ms), the expiry slack, then three per slot:
// "window", limit, windowMs — or "rate", interval (ms), burst.
// Answers {1} when every slot had room and took a use, else {0, the full slot's number (0: the
// pause), ms until it may have room or -1 when that depends on sends in flight}.
const TAKE = defineScript(`
local now = tonumber(ARGV[1])
local paused = tonumber(redis.call('GET', KEYS[1]) or '0')
if now < paused then return {0, 0, math.ceil(paused - now)} end
local slots = (#KEYS - 1) / 2
for i = 1, slots do
  local uses, flight = KEYS[2 * i], KEYS[2 * i + 1]
  local kind, a, b = ARGV[3 * i + 2], tonumber(ARGV[3 * i + 3]), tonumber(ARGV[3 * i + 4])
  if kind == 'rate' then
    local earliest = tonumber(redis.call('GET', uses) or now) - (b - 1) * a
    if now < earliest then return {0, i, math.ceil(earliest - now)} end
  else
    redis.call('ZREMRANGEBYSCORE', uses, '-inf', now)
    redis.call('ZREMRANGEBYSCORE', flight, '-inf', now)
    if redis.call('ZCARD', uses) + redis.call('ZCARD', flight) >= a then
      local soonest = redis.call('ZRANGE', uses, 0, 0, 'WITHSCORES')[2]
      if soonest then return {0, i, math.ceil(tonumber(soonest) - now)} end
      return {0, i, -1}
    end
  end
end
local id, sending, slack = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
for i = 1, slots do
  local uses, flight = KEYS[2 * i], KEYS[2 * i + 1]
  local kind, a, b = ARGV[3 * i + 2], tonumber(ARGV[3 * i + 3]), tonumber(ARGV[3 * i + 4])
  if kind == 'rate' then
    local next = math.max(tonumber(redis.call('GET', uses) or now), now) + a
    redis.call('SET', uses, string.format('%.3f', next), 'PX', math.ceil(next - now) + slack)
  else
    redis.call('ZADD', flight, now + sending + b, id)
    redis.call('PEXPIRE', flight, sending + b + slack)
  end
end
return {1}
`)

// KEYS: two per window slot (uses, uses in flight). ARGV: now, the use's id, the expiry slack,
// then each slot's windowMs. A use still in flight starts counting down its window.
const FINISH = defineScript(`
local now, id, slack = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
for i = 1, #KEYS / 2 do
  local uses, flight, window = KEYS[2 * i - 1], KEYS[2 * i], tonumber(ARGV[3 + i])
  if redis.call('ZREM', flight, id) == 1 then
    redis.call('ZADD', uses, now + window, id)
    redis.call('PEXPIRE', uses, window + slack)
  end
end
return 0
`)

// KEYS[1]: the pause. ARGV: until, now, the expiry slack. A shorter pause never cuts a longer one.
const PAUSE = defineScript(`
local untilMs, now = tonumber(ARGV[1]), tonumber(ARGV[2])
if untilMs > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', math.max(1, math.ceil(untilMs - now)) + tonumber(ARGV[3]))
end
return 0
`)

// KEYS[1]: the replicas pacing with this budget (score: when last heard of). ARGV: now, this
// replica, how long one counts after it was last heard of (ms). Answers how many count.
const PRESENT = defineScript(`
local now, horizon = tonumber(ARGV[1]), tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], now, ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - horizon)
redis.call('PEXPIRE', KEYS[1], horizon)
return redis.call('ZCARD', KEYS[1])
`)
const LEAVE = defineScript(`return redis.call('ZREM', KEYS[1], ARGV[1])`)

/**
 * One replica's share of a slot when `replicas` pace on their own: a window allows
 * floor(limit / replicas), so together they never pass the limit in any window; a limit smaller
 * than that (1 a second to a private chat) keeps one use over a window as many times longer, the
 * same average rate. A rate is divided likewise.
 */
export function shareOf(slot: Slot, replicas: number): Slot {
  if (replicas <= 1) return slot
  if ("perSecond" in slot)
    return {
      ...slot,
      perSecond: slot.perSecond / replicas,
      burst: Math.max(1, Math.floor(slot.burst / replicas)),
    }
  if (slot.limit >= replicas) return { ...slot, limit: Math.floor(slot.limit / replicas) }
  return { ...slot, limit: 1, windowMs: Math.ceil((slot.windowMs * replicas) / slot.limit) }
}

export interface SharedBudgetStore extends BudgetStore {
  /** Replicas that shared the budget lately, this one included: what an outage divides by. */
  readonly replicas: number
  /**
   * Says this replica is present (every `presenceMs` on its own) and learns how many are;
   * while Redis is unavailable, the count seen last.
   */
  present(): Promise<number>
  /** Stops saying this replica is present, and says it left. */
  close(): Promise<void>
}

export interface SharedBudgetStoreOptions {
  redis: SharedRedis
  /** The budget is the bot token's: two bots on one Redis keep their own. */
  botId: string | number
  logger: Logger
  /** Milliseconds clock for saying this replica is present (each replica's; NTP keeps them close). */
  now?: () => number
  /** How often this replica says it is present; it counts for three times as long. */
  presenceMs?: number
  /** Replicas assumed before Redis has ever answered (a replica started during an outage). */
  assumedReplicas?: number
  /**
   * The longest a send can take (the bot's Telegram call deadline): a use a dead replica left in
   * flight stops counting this long after it was taken, plus its window.
   */
  maxSendMs?: number
}

export function createSharedBudgetStore(options: SharedBudgetStoreOptions): SharedBudgetStore {
  const {
    redis,
    botId,
    logger,
    now = Date.now,
    presenceMs = 5_000,
    assumedReplicas = 2,
    maxSendMs = TELEGRAM_CALL_TIMEOUT_MS,
  } = options
  const key = (...parts: string[]) => redis.key("bot", botId, ...parts)
  const pauseKey = key("pause")
  const presentKey = key("pacers")
  const instance = crypto.randomUUID()
  const local = memoryBudgetStore()
  // Uses taken from the local budget during an outage, with the share they were taken at: their
  // finish goes there too.
  const taken = new Map<string, Slot[]>()
  let replicas: number | undefined
  let alone = false
  const ignore = () => {}

  const present = async () => {
    try {
      const count = Number(
        await redis.run(PRESENT, [presentKey], [now(), instance, presenceMs * 3]),
      )
      replicas = Math.max(1, count)
    } catch {
      // Unavailable: the count seen last still holds.
    }
    return replicas ?? assumedReplicas
  }
  void present()
  const timer = setInterval(() => void present(), presenceMs)
  timer.unref()

  const slotKeys = (slot: Slot) => {
    const uses = key("pace", slot.key)
    return [uses, `${uses}:flight`]
  }

  const takeShared = async (slots: readonly Slot[], id: string, at: number): Promise<Take> => {
    const args: (string | number)[] = [at, id, maxSendMs, EXPIRY_SLACK_MS]
    for (const slot of slots)
      if ("perSecond" in slot) args.push("rate", 1_000 / slot.perSecond, slot.burst)
      else args.push("window", slot.limit, slot.windowMs)
    const answer = (await redis.run(TAKE, [pauseKey, ...slots.flatMap(slotKeys)], args)) as number[]
    if (alone) {
      alone = false
      logger.info("outbound pacing shares the bot's budget through Redis again")
    }
    if (answer[0] === 1) return { ok: true }
    const [, index = 0, retryInMs = -1] = answer.map(Number)
    return {
      ok: false,
      full: index === 0 ? "pause" : (slots[index - 1]?.key ?? "pause"),
      retryInMs: retryInMs < 0 ? undefined : retryInMs,
    }
  }

  const takeLocal = async (slots: readonly Slot[], id: string, at: number): Promise<Take> => {
    const share = replicas ?? assumedReplicas
    if (!alone) {
      alone = true
      logger.warn("outbound pacing on this replica's own budget while Redis is unavailable", {
        share_of_limits: `1/${share}`,
        replicas: share,
      })
    }
    const mine = slots.map((slot) => shareOf(slot, share))
    const result = await local.take(mine, id, at)
    if (result.ok) taken.set(id, mine)
    return result
  }

  return {
    get replicas() {
      return replicas ?? assumedReplicas
    },
    present,
    take: (slots, id, at) =>
      sharedOrLocal(
        () => takeShared(slots, id, at),
        () => takeLocal(slots, id, at),
      ),
    async finish(slots, id, at) {
      const mine = taken.get(id)
      if (mine) {
        taken.delete(id)
        return local.finish(mine, id, at)
      }
      const windows = slots.filter((slot) => "windowMs" in slot)
      // Unavailable: the use stops counting on its own, maxSendMs after it was taken.
      await redis
        .run(FINISH, windows.flatMap(slotKeys), [
          at,
          id,
          EXPIRY_SLACK_MS,
          ...windows.map((slot) => ("windowMs" in slot ? slot.windowMs : 0)),
        ])
        .catch(ignore)
    },
    async pause(until, at) {
      // Both: the local budget is what this replica falls back on if Redis goes away meanwhile.
      await local.pause(until, at)
      await redis.run(PAUSE, [pauseKey], [until, at, EXPIRY_SLACK_MS]).catch(ignore)
    },
    async close() {
      clearInterval(timer)
      await redis.run(LEAVE, [presentKey], [instance]).catch(ignore)
    },
  }
}
