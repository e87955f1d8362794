// Where the outbound budget is kept: the BudgetStore interface the pacer draws from, and the
// store of one process (in memory). Redis keeps it for several replicas: shared-pacing.ts.
import type { Window } from "./pacer"

/**
 * What a message draws from: a window (at most `limit` messages counted until `windowMs` after
 * each one's send finished), or a rate (sends `1/perSecond` apart on average, up to `burst` at
 * once; a token bucket, so a timer that fires late is made up for instead of lowering the rate).
 */
export type Slot = { key: string } & (Window | { perSecond: number; burst: number })

export type Take = { ok: true } | { ok: false; full: string; retryInMs: number | undefined }

/** Where the budget is kept. Every method is atomic with respect to the others. */
export interface BudgetStore {
  /**
   * Takes one use of every slot for `id` if each has room (and nothing is paused); otherwise
   * takes nothing and names the full slot ("pause" when paused) with the time until it may have
   * room, or undefined when that depends on sends still in flight.
   */
  take(slots: readonly Slot[], id: string, now: number): Promise<Take>
  /** The send of `id` is over: its uses count until `windowMs` after `now`. */
  finish(slots: readonly Slot[], id: string, now: number): Promise<void>
  /** Nothing is taken before `until` (ms, on the clock `now` is read from). */
  pause(until: number, now: number): Promise<void>
}

/** The budget of one process. */
export function memoryBudgetStore(): BudgetStore {
  // key → id → until when the use counts (Infinity while its send is in flight).
  const windows = new Map<string, Map<string, number>>()
  // key → the theoretical time of the rate's next send (GCRA).
  const rates = new Map<string, number>()
  let pausedUntil = 0
  let takes = 0

  const prune = (key: string, now: number) => {
    const uses = windows.get(key)
    if (!uses) return undefined
    for (const [id, until] of uses) if (until <= now) uses.delete(id)
    if (uses.size === 0) windows.delete(key)
    return windows.get(key)
  }

  return {
    async take(slots, id, now) {
      // Forget idle chats now and then, so memory follows the chats active in the last minute.
      if (++takes % 1_000 === 0) for (const key of [...windows.keys()]) prune(key, now)
      if (now < pausedUntil) return { ok: false, full: "pause", retryInMs: pausedUntil - now }
      for (const slot of slots) {
        if ("perSecond" in slot) {
          const interval = 1_000 / slot.perSecond
          const earliest = (rates.get(slot.key) ?? now) - (slot.burst - 1) * interval
          if (now >= earliest) continue
          return { ok: false, full: slot.key, retryInMs: earliest - now }
        }
        const uses = prune(slot.key, now)
        if (!uses || uses.size < slot.limit) continue
        let soonest = Number.POSITIVE_INFINITY
        for (const until of uses.values()) soonest = Math.min(soonest, until)
        return {
          ok: false,
          full: slot.key,
          retryInMs: Number.isFinite(soonest) ? soonest - now : undefined,
        }
      }
      for (const slot of slots) {
        if ("perSecond" in slot) {
          rates.set(slot.key, Math.max(rates.get(slot.key) ?? now, now) + 1_000 / slot.perSecond)
          continue
        }
        const uses = windows.get(slot.key) ?? new Map<string, number>()
        windows.set(slot.key, uses)
        uses.set(id, Number.POSITIVE_INFINITY)
      }
      return { ok: true }
    },
    async finish(slots, id, now) {
      for (const slot of slots) {
        const uses = windows.get(slot.key)
        if ("windowMs" in slot && uses?.has(id)) uses.set(id, now + slot.windowMs)
      }
    },
    async pause(until) {
      pausedUntil = Math.max(pausedUntil, until)
    },
  }
}
