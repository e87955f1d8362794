// Runs updates the way a chat expects: one chat's updates strictly one after another in arrival
// order (a /link followed by /status must see the link), different chats concurrently up to a
// bound. GramIO's own EventQueue runs everything in parallel with no per-chat order, so updates are
// fed through this instead. Duplicate deliveries (same update_id) are dropped.
import type { TelegramUpdate } from "@gramio/types"
import { describeError, type Logger } from "@nps/log"
import { laneKey } from "./lane"

export interface Dispatcher {
  /** Queues an update; false when it was a duplicate and is ignored. */
  dispatch(update: TelegramUpdate): boolean
  /** Updates queued or running. */
  readonly pending: number
  /** The lowest update_id not yet finished, if any (what a restart must see again). */
  lowestUnfinished(): number | undefined
  /** Resolves when nothing is queued or running. */
  idle(): Promise<void>
  /** Resolves when `pending` is below the backlog bound (polling waits on it). */
  hasRoom(): Promise<void>
  /** Resolves once this update is no longer queued or running (at once if it is not). */
  settled(updateId: number): Promise<void>
}

export interface DispatcherOptions {
  handle: (update: TelegramUpdate) => Promise<unknown>
  logger: Logger
  /** Chats handled at the same time. */
  concurrency?: number
  /** Polling pauses while this many updates are waiting. */
  maxPending?: number
  /** How many recent update ids are remembered to drop re-deliveries. */
  rememberIds?: number
}

export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const { handle, logger, concurrency = 16, maxPending = 1_000, rememberIds = 1_000 } = options
  // A lane exists while its chat has work; it is either running or waiting in `ready`.
  const lanes = new Map<string, TelegramUpdate[]>()
  const ready: string[] = []
  const unfinished = new Set<number>()
  const seen = new Set<number>()
  const seenOrder: number[] = []
  let running = 0
  const idleWaiters: (() => void)[] = []
  const roomWaiters: (() => void)[] = []
  const settledWaiters = new Map<number, (() => void)[]>()

  const remember = (id: number) => {
    seen.add(id)
    seenOrder.push(id)
    while (seenOrder.length > rememberIds) seen.delete(seenOrder.shift() as number)
  }

  const settle = () => {
    if (unfinished.size < maxPending) for (const resolve of roomWaiters.splice(0)) resolve()
    if (unfinished.size === 0) for (const resolve of idleWaiters.splice(0)) resolve()
  }

  const runLane = async (key: string) => {
    running++
    const lane = lanes.get(key)
    const update = lane?.[0]
    if (update) {
      try {
        await handle(update)
      } catch (error) {
        // The bot's own error boundary answers the user; this only guards the lane.
        logger.error("update handler escaped the error boundary", {
          update_id: update.update_id,
          error: describeError(error),
        })
      }
      unfinished.delete(update.update_id)
      for (const resolve of settledWaiters.get(update.update_id) ?? []) resolve()
      settledWaiters.delete(update.update_id)
      lane.shift()
    }
    running--
    if (lane && lane.length > 0) ready.push(key)
    else lanes.delete(key)
    pump()
    settle()
  }

  const pump = () => {
    while (running < concurrency && ready.length > 0) {
      void runLane(ready.shift() as string)
    }
  }

  return {
    dispatch(update) {
      if (seen.has(update.update_id)) {
        logger.debug("duplicate update ignored", { update_id: update.update_id })
        return false
      }
      remember(update.update_id)
      unfinished.add(update.update_id)
      const key = laneKey(update)
      const lane = lanes.get(key)
      if (lane) lane.push(update)
      else {
        lanes.set(key, [update])
        ready.push(key)
      }
      pump()
      return true
    },
    get pending() {
      return unfinished.size
    },
    lowestUnfinished() {
      let lowest: number | undefined
      for (const id of unfinished) if (lowest === undefined || id < lowest) lowest = id
      return lowest
    },
    idle() {
      if (unfinished.size === 0) return Promise.resolve()
      return new Promise((resolve) => idleWaiters.push(resolve))
    },
    hasRoom() {
      if (unfinished.size < maxPending) return Promise.resolve()
      return new Promise((resolve) => roomWaiters.push(resolve))
    },
    settled(updateId) {
      if (!unfinished.has(updateId)) return Promise.resolve()
      return new Promise((resolve) => {
        const waiters = settledWaiters.get(updateId) ?? []
        waiters.push(resolve)
        settledWaiters.set(updateId, waiters)
      })
    },
  }
}
