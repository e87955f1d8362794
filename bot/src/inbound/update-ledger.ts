// Which webhook updates are being handled or done, so a redelivered update is handled once — by
// one replica, or (REDIS_URL) by all of them together. A replica takes an update with a short
// claim that it renews while it works and turns into "done" when it has handled it; a replica
// that dies mid-update stops renewing, the claim lapses, and Telegram's redelivery is handled by
// whichever replica gets it. A redelivery that arrives while another replica still holds the
// claim is told "busy" (the webhook answers non-2xx, so Telegram tries again later), never
// dropped.
import { defineScript, type SharedRedis, sharedOrLocal } from "@nps/redis"

/** "claimed": handle it now; "done": handled already; "busy": being handled elsewhere. */
export type Claim = "claimed" | "done" | "busy"

export interface UpdateLedger {
  claim(updateId: number): Promise<Claim>
  /** The update was handled. */
  finish(updateId: number): Promise<void>
  /** Gives a claim back unhandled (shutting down), so a redelivery is handled at once. */
  release(updateId: number): Promise<void>
  close(): void
}

/** One process's ledger: the last `remember` finished update ids, and those in progress. */
export function createMemoryLedger({ remember = 10_000 } = {}): UpdateLedger & {
  /** Synchronous claim, for the shared ledger's fallback. */
  claimNow(updateId: number): Claim
  isDone(updateId: number): boolean
} {
  const inProgress = new Set<number>()
  // Insertion-ordered: the oldest finished id is forgotten first.
  const done = new Set<number>()
  const claimNow = (id: number): Claim => {
    if (done.has(id)) return "done"
    if (inProgress.has(id)) return "busy"
    inProgress.add(id)
    return "claimed"
  }
  return {
    claimNow,
    isDone: (id) => done.has(id),
    claim: async (id) => claimNow(id),
    async finish(id) {
      inProgress.delete(id)
      done.add(id)
      for (const oldest of done) {
        if (done.size <= remember) break
        done.delete(oldest)
      }
    },
    async release(id) {
      inProgress.delete(id)
    },
    close() {},
  }
}

// KEYS[1]: the update's key. ARGV: this replica's claim, its time to live (ms).
// Answers the key's value when someone has it ("done" or another claim), else takes it.
const CLAIM = defineScript(`
local held = redis.call('GET', KEYS[1])
if held then return held end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 'claimed'
`)
// KEYS[1]: the update's key. ARGV: how long to remember it was handled (ms).
const FINISH = defineScript(`return redis.call('SET', KEYS[1], 'done', 'PX', ARGV[1])`)
// KEYS[1]: the update's key. ARGV: this replica's claim. Only our own claim is given back.
const RELEASE = defineScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)
// KEYS: the updates this replica is working on. ARGV: its claim, the claim's time to live (ms).
const RENEW = defineScript(`
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('PEXPIRE', key, ARGV[2]) end
end
return 0
`)

export interface SharedLedgerOptions {
  redis: SharedRedis
  /** Update ids are per bot: two bots on one Redis keep their own. */
  botId: string | number
  /** How long a claim lives unless renewed: how soon a dead replica's update is taken over. */
  claimTtlMs?: number
  /** How long a handled update is remembered (Telegram redelivers within minutes, not hours). */
  doneTtlMs?: number
}

/**
 * The ledger shared by replicas through Redis, with this replica's memory underneath: while
 * Redis is unavailable it decides alone (fail open: the update is handled; only a redelivery to
 * another replica during the outage could be handled twice).
 */
export function createSharedLedger(options: SharedLedgerOptions): UpdateLedger {
  const { redis, botId, claimTtlMs = 30_000, doneTtlMs = 60 * 60_000 } = options
  const local = createMemoryLedger()
  // This process's claims: what "mine" looks like in Redis, and which ones to keep alive.
  const claim = `processing:${crypto.randomUUID()}`
  const held = new Set<number>()
  const key = (id: number) => redis.key("bot", botId, "update", id)
  const ignore = () => {}

  const renew = setInterval(
    () => {
      if (held.size === 0) return
      void redis.run(RENEW, [...held].map(key), [claim, claimTtlMs]).catch(ignore)
    },
    Math.max(100, Math.floor(claimTtlMs / 3)),
  )
  renew.unref()

  return {
    async claim(id) {
      if (local.isDone(id)) return "done"
      const mine = local.claimNow(id)
      if (mine !== "claimed") return mine
      const verdict = await sharedOrLocal(
        async () => {
          const answer = String(await redis.run(CLAIM, [key(id)], [claim, claimTtlMs]))
          return answer === "claimed" ? "claimed" : answer === "done" ? "done" : "busy"
        },
        (): Claim => "claimed",
      )
      if (verdict === "claimed") held.add(id)
      else if (verdict === "done") await local.finish(id)
      else await local.release(id)
      return verdict
    },
    async finish(id) {
      held.delete(id)
      await local.finish(id)
      await redis.run(FINISH, [key(id)], [doneTtlMs]).catch(ignore)
    },
    async release(id) {
      held.delete(id)
      await local.release(id)
      await redis.run(RELEASE, [key(id)], [claim]).catch(ignore)
    },
    close() {
      clearInterval(renew)
    },
  }
}
