// The one outbound budget every message the bot sends draws from: Telegram's limits (30 messages
// a second overall, 1 a second to a private chat, 20 a minute to a group) and, on a 429, a pause
// of everything for retry_after. A message goes out at once when there is room; otherwise it
// waits its turn, replies to users before deliveries. Deliveries are also spaced to a slightly
// lower rate, so a broadcast leaves room for replies instead of queueing them behind it.
//
// The budget's state lives behind BudgetStore (async): in memory for one process, and shared by
// several replicas when a store keeps it elsewhere (Redis: shared-pacing.ts). The waiting line is
// per process.
//
// A message counts against a window from when it is allowed until `windowMs` after its send
// *finished*: Telegram counts it when it arrives, which is after we allow it and before we hear
// back, so counting to the answer keeps us inside the limit whatever the network delay.
//
// With paid broadcast (broadcast.ts) deliveries leave the 30-a-second window for a 1,000-a-second
// one; the limits may change while the bot runs (Telegram refusing paid sends), so each waiter's
// slots are worked out when it is tried, from the limits of that moment.

import { type BudgetStore, memoryBudgetStore, type Slot } from "./budget-store"

export type Priority = "reply" | "delivery"

export interface Window {
  limit: number
  windowMs: number
}

export interface PacerLimits {
  /** Telegram's free broadcasting limit: every message, or with `paid` every reply. */
  overall: Window
  /** Paid broadcast: every message (replies and deliveries) within this; deliveries skip `overall`. */
  paid?: Window
  privateChat: Window
  groupChat: Window
  /** Deliveries go at most this many a second on average, below `overall`: room for replies. */
  deliveriesPerSecond: number
  /** How many deliveries may go at once after a lull (default 4). */
  deliveryBurst?: number
}

/** The bot's deadline for one Telegram call: the longest a send can hold a use of the budget. */
export const TELEGRAM_CALL_TIMEOUT_MS = 15_000

export const TELEGRAM_LIMITS: PacerLimits = {
  overall: { limit: 30, windowMs: 1_000 },
  privateChat: { limit: 1, windowMs: 1_000 },
  groupChat: { limit: 20, windowMs: 60_000 },
  deliveriesPerSecond: 28,
}

export { type BudgetStore, memoryBudgetStore, type Slot, type Take } from "./budget-store"

export interface Clock {
  now(): number
  /** Calls `fn` after `ms`; returns a function that cancels it. */
  setTimer(fn: () => void, ms: number): () => void
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (fn, ms) => {
    const timer = setTimeout(fn, ms)
    return () => clearTimeout(timer)
  },
}

export interface Permit {
  /** The send is over, whatever its outcome. */
  done(): void
}

export interface Pacer {
  /** Resolves when a message to `chatId` may be sent; rejects if `signal` aborts first. */
  acquire(chatId: number | string, priority: Priority, signal?: AbortSignal): Promise<Permit>
  /** Telegram said 429: nothing is sent for `ms`. */
  pause(ms: number): void
  /** Messages waiting for their turn. */
  readonly waiting: number
}

export interface PacerOptions {
  /** A function when they may change (paid broadcast refused): read each time a waiter is tried. */
  limits?: PacerLimits | (() => PacerLimits)
  store?: BudgetStore
  clock?: Clock
  /** With a shared store, other processes' sends free room unseen: look again this often. */
  recheckMs?: number
}

interface Waiter {
  seq: number
  /** Out of the line: granted, or given up. */
  gone: boolean
  chatId: number | string
  priority: Priority
  resolve: (permit: Permit) => void
  reject: (error: unknown) => void
}

const RANK: Record<Priority, number> = { reply: 0, delivery: 1 }

/** Full slots that hold up everyone behind (besides `all` when deliveries do not use it). */
const HOLDS_ALL = new Set(["pause", "paid", "deliveries"])

/** Telegram's chat ids: users (private chats) are positive; groups and channels negative. */
const isPrivate = (chatId: number | string) => typeof chatId === "number" && chatId > 0

export function createPacer(options: PacerOptions = {}): Pacer {
  const {
    limits: given = TELEGRAM_LIMITS,
    store = memoryBudgetStore(),
    clock = systemClock,
    recheckMs = 1_000,
  } = options
  const queue: Waiter[] = []
  // Ids of uses in a shared store must not collide with another replica's (pids repeat across
  // containers).
  const instance = crypto.randomUUID().slice(0, 8)
  let seq = 0
  // This process heard the 429 itself: it holds its own sends at once, without waiting for the
  // store to record the pause (a round trip away when the store is shared).
  let pausedUntil = 0
  let pumping = false
  let again = false
  let cancelTimer: (() => void) | undefined

  const limitsNow = typeof given === "function" ? given : () => given
  // Slots the store said are full, until when: asking again sooner cannot succeed (a use only
  // stops counting later, a rate's next time and a pause only move later), so a waiter needing
  // one is passed over without a round trip to the store — with Redis, one per waiter per pass
  // otherwise, mostly for chats still inside their second. Forgotten when the limits change.
  const fullUntil = new Map<string, number>()
  let limits = limitsNow()

  const slotsFor = ({ chatId, priority }: Waiter): Slot[] => {
    const chat: Slot = {
      key: `chat:${chatId}`,
      ...(isPrivate(chatId) ? limits.privateChat : limits.groupChat),
    }
    if (priority === "reply")
      return limits.paid
        ? [{ key: "all", ...limits.overall }, { key: "paid", ...limits.paid }, chat]
        : [{ key: "all", ...limits.overall }, chat]
    const rate: Slot = {
      key: "deliveries",
      perSecond: limits.deliveriesPerSecond,
      burst: limits.deliveryBurst ?? 4,
    }
    return [
      limits.paid ? { key: "paid", ...limits.paid } : { key: "all", ...limits.overall },
      chat,
      rate,
    ]
  }

  /** The slot known to be full the longest among `slots` (and the pause), if any still is. */
  const knownFull = (slots: Slot[], now: number) => {
    let key = "pause"
    let until = fullUntil.get(key) ?? 0
    for (const slot of slots) {
      const full = fullUntil.get(slot.key) ?? 0
      if (full > until) [key, until] = [slot.key, full]
    }
    return until > now ? { key, retryInMs: until - now } : undefined
  }
  // Full with sends in flight: each counts for its window after it finishes, so not before then
  // (and the recheck looks again anyway).
  const inFlightMs = (slots: Slot[], key: string) => {
    const slot = slots.find((s) => s.key === key)
    return Math.min(recheckMs, slot && "windowMs" in slot ? slot.windowMs : 0)
  }
  const holdsAll = (key: string) => HOLDS_ALL.has(key) || (key === "all" && !limits.paid)
  const refreshLimits = (now: number) => {
    const current = limitsNow()
    if (current !== limits) {
      limits = current
      fullUntil.clear()
    } else if (fullUntil.size > 1_000) {
      for (const [key, until] of fullUntil) if (until <= now) fullUntil.delete(key)
    }
  }

  const schedule = (ms: number) => {
    cancelTimer?.()
    cancelTimer = clock.setTimer(
      () => {
        cancelTimer = undefined
        void pump()
      },
      Math.max(0, ms),
    )
  }

  const permitFor = (slots: Slot[], id: string): Permit => {
    let finished = false
    return {
      done: () => {
        if (finished) return
        finished = true
        void store.finish(slots, id, clock.now()).then(() => pump())
      },
    }
  }

  // One pass at a time, in priority order. A waiter whose chat is busy does not hold up other
  // chats; a full overall window (or a pause) holds up everyone after it.
  const pump = async (): Promise<void> => {
    if (pumping) {
      again = true
      return
    }
    pumping = true
    try {
      do {
        again = false
        let wake: number | undefined
        refreshLimits(clock.now())
        for (const waiter of [...queue]) {
          if (waiter.gone) continue
          const holdMs = pausedUntil - clock.now()
          if (holdMs > 0) {
            wake = holdMs
            break
          }
          const slots = slotsFor(waiter)
          const now = clock.now()
          const known = knownFull(slots, now)
          const taken = known
            ? ({ ok: false, full: known.key, retryInMs: known.retryInMs } as const)
            : await store.take(slots, `${instance}:${waiter.seq}`, now)
          if (taken.ok) {
            const permit = permitFor(slots, `${instance}:${waiter.seq}`)
            // Gave up while the store answered: the use is not needed after all.
            if (waiter.gone) permit.done()
            else {
              waiter.gone = true
              queue.splice(queue.indexOf(waiter), 1)
              waiter.resolve(permit)
            }
            continue
          }
          const retry = taken.retryInMs ?? recheckMs
          if (!known)
            fullUntil.set(taken.full, now + (taken.retryInMs ?? inFlightMs(slots, taken.full)))
          wake = wake === undefined ? retry : Math.min(wake, retry)
          // Deliveries wait behind each other for their spacing; replies come before them all.
          if (holdsAll(taken.full)) break
        }
        if (queue.length && wake !== undefined) schedule(wake)
      } while (again)
    } finally {
      pumping = false
    }
  }

  return {
    get waiting() {
      return queue.length
    },
    acquire(chatId, priority, signal) {
      if (signal?.aborted) return Promise.reject(signal.reason)
      return new Promise<Permit>((resolve, reject) => {
        const waiter: Waiter = {
          seq: seq++,
          gone: false,
          chatId,
          priority,
          resolve: (permit) => {
            signal?.removeEventListener("abort", onAbort)
            resolve(permit)
          },
          reject,
        }
        const onAbort = () => {
          if (waiter.gone) return
          waiter.gone = true
          queue.splice(queue.indexOf(waiter), 1)
          reject(signal?.reason)
        }
        signal?.addEventListener("abort", onAbort, { once: true })
        // Replies go ahead of every delivery; within a priority, first come first served.
        let at = queue.findIndex((w) => RANK[w.priority] > RANK[priority])
        if (at < 0) at = queue.length
        queue.splice(at, 0, waiter)
        void pump()
      })
    },
    pause(ms) {
      const now = clock.now()
      pausedUntil = Math.max(pausedUntil, now + ms)
      void store.pause(now + ms, now).then(() => pump())
    },
  }
}
