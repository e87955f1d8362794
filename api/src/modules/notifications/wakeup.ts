// Wakes waiting lease requests when deliveries may have become due: through Postgres LISTEN for
// what any API replica (this one included) or the admin CLI did, and directly for what this
// process did while LISTEN is not in place — once per change either way. A generation counter
// closes the gap between "nothing is due" and starting to wait.
import type { Listen } from "@nps/db"
import type { Logger } from "@nps/log"
import { describeForLog } from "../../errors"

export interface Wakeup {
  /** Read before checking for work; `wait` returns at once if a wake-up came since. */
  readonly generation: number
  /** Until a wake-up, `ms` elapse, `signal` aborts or the server is stopping. */
  wait(generation: number, ms: number, signal: AbortSignal): Promise<void>
  /**
   * This process accepted or settled deliveries (and NOTIFYed): wakes the waiting leases, unless
   * LISTEN is in place and so the NOTIFY itself will — one wake-up per change, not two.
   */
  wake(): void
  /** LISTEN is in place (or could not be): call before checking for work, so no NOTIFY is missed. */
  ready(): Promise<void>
  /** Lease requests waiting right now. */
  readonly waiting: number
  /** The server is stopping: no lease waits any longer. */
  readonly stopping: boolean
}

export function createWakeup(options: {
  listen: Listen | undefined
  channel: string
  logger: Logger
  stopping?: AbortSignal
}): Wakeup {
  const { listen, channel, logger, stopping } = options
  let generation = 0
  const waiters = new Set<() => void>()
  let subscription: Promise<void> | undefined
  let warned = false
  let listening = false

  const wakeAll = () => {
    generation++
    for (const resolve of [...waiters]) resolve()
  }

  // Subscribed on first use (building an app opens nothing); retried on a later wait if the
  // database was unreachable. Until then waiters still wake on their timers.
  const subscribe = () => {
    if (!listen) return Promise.resolve()
    subscription ??= listen(channel, wakeAll).then(
      () => {
        listening = true
      },
      (error) => {
        if (!warned)
          logger.warn("cannot LISTEN for deliveries; waiting leases re-check on a timer", {
            error: describeForLog(error),
          })
        warned = true
        subscription = undefined
      },
    )
    return subscription
  }

  return {
    get generation() {
      return generation
    },
    get waiting() {
      return waiters.size
    },
    get stopping() {
      return stopping?.aborted ?? false
    },
    wake: () => {
      if (!listening) wakeAll()
    },
    ready: async () => {
      await subscribe()
    },
    wait(since, ms, request) {
      void subscribe()
      const signal = stopping ? AbortSignal.any([request, stopping]) : request
      if (since !== generation || signal.aborted || ms <= 0) return Promise.resolve()
      return new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer)
          waiters.delete(done)
          signal.removeEventListener("abort", done)
          resolve()
        }
        const timer = setTimeout(done, ms)
        waiters.add(done)
        signal.addEventListener("abort", done)
      })
    },
  }
}
