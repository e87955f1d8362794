// A clock that moves only when a test says so; timers fire as it passes them, in order.
import type { Clock } from "../src/outbound/pacer"

export interface FakeClock extends Clock {
  /** Moves time forward by `ms`, firing due timers (and letting what they start settle). */
  advance(ms: number): Promise<void>
}

export interface FakeClockOptions {
  start?: number
  /**
   * Work outside this process that what the timers started waits on (a Redis round trip), or
   * undefined when there is none: advance() lets it finish too before it moves on.
   */
  busy?: () => Promise<unknown> | undefined
}

export function fakeClock(options: FakeClockOptions = {}): FakeClock {
  const { start = 1_000_000, busy } = options
  const settle = async () => {
    for (;;) {
      for (let i = 0; i < 20; i++) await Promise.resolve()
      const pending = busy?.()
      if (!pending) return
      await pending
    }
  }
  let now = start
  let nextId = 0
  const timers = new Map<number, { at: number; fn: () => void }>()
  return {
    now: () => now,
    setTimer(fn, ms) {
      const id = nextId++
      timers.set(id, { at: now + Math.max(0, ms), fn })
      return () => timers.delete(id)
    },
    async advance(ms) {
      const end = now + ms
      for (;;) {
        await settle()
        let first: [number, { at: number; fn: () => void }] | undefined
        for (const entry of timers)
          if (entry[1].at <= end && (!first || entry[1].at < first[1].at)) first = entry
        if (!first) break
        timers.delete(first[0])
        now = Math.max(now, first[1].at)
        first[1].fn()
      }
      now = end
      await settle()
    },
  }
}
