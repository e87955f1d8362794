// The outbound budget's stores under test: this process's memory, and Redis (when one answers)
// shared by replicas. Each store is watched, so a fake clock can wait for its round trips.
import type { Logger } from "@nps/log"
import { openTestRedis, TEST_REDIS_URL, testPrefix } from "@nps/testing/redis"
import { type BudgetStore, memoryBudgetStore } from "../src/outbound/pacer"
import { createSharedBudgetStore, type SharedBudgetStore } from "../src/outbound/shared-pacing"
import { captureLogs } from "./harness"

export interface WatchedStore {
  store: BudgetStore
  /** The store's calls still waiting for an answer, or undefined when there are none. */
  busy(): Promise<unknown> | undefined
}

/** Wraps a store so a test can wait until none of its calls is in flight. */
export function watched(store: BudgetStore): WatchedStore {
  const pending = new Set<Promise<unknown>>()
  const track = <T>(promise: Promise<T>) => {
    pending.add(promise)
    promise.then(
      () => pending.delete(promise),
      () => pending.delete(promise),
    )
    return promise
  }
  return {
    store: {
      take: (...args) => track(store.take(...args)),
      finish: (...args) => track(store.finish(...args)),
      pause: (...args) => track(store.pause(...args)),
    },
    busy: () => (pending.size ? Promise.allSettled([...pending]) : undefined),
  }
}

export interface StoreKind {
  name: string
  /** A fresh budget on the clock `now`. */
  open(now: () => number): BudgetStore
}

const openedShared: SharedBudgetStore[] = []
const closers: (() => void)[] = []
const prefixes = new Map<string, string>()

export const memoryStore: StoreKind = { name: "memory", open: () => memoryBudgetStore() }

/** A budget in the test Redis; those opened with the same `shared` name are one bot's replicas. */
export function openShared(
  now: () => number,
  options: { shared?: string; logger?: Logger; url?: string } = {},
): SharedBudgetStore {
  const name = options.shared ?? crypto.randomUUID()
  const prefix = prefixes.get(name) ?? testPrefix()
  prefixes.set(name, prefix)
  const logger = options.logger ?? captureLogs().logger
  const redis = openTestRedis(logger, { prefix, url: options.url })
  const store = createSharedBudgetStore({ redis, botId: "123", logger, now })
  openedShared.push(store)
  closers.push(() => redis.close())
  return store
}

export const redisStore: StoreKind | undefined = TEST_REDIS_URL
  ? { name: "Redis", open: openShared }
  : undefined

/** Every store this machine can test. */
export const budgetStores: StoreKind[] = [memoryStore, ...(redisStore ? [redisStore] : [])]

/** Closes every Redis store opened since the last call (afterEach). */
export async function closeStores() {
  for (const store of openedShared.splice(0)) await store.close()
  for (const close of closers.splice(0)) close()
}
