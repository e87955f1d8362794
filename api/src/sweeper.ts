// Deleting rows nobody needs any more (expired link tokens; finished notifications, with
// retention) in the background, never inside a request: a request that sweeps a whole table
// fights every concurrent request for the same rows (deadlocks, 503s at the query deadline).
// Each sweep deletes in small batches, one short transaction each, by one replica at a time.
import type { Db } from "@nps/db"
import type { Logger } from "@nps/log"
import { sql } from "drizzle-orm"
import { describeForLog, isDatabaseUnavailable } from "./errors"

/** One kind of row to delete. */
export interface Sweep {
  /** Names the sweep in logs, and its advisory lock (one replica at a time per name). */
  name: string
  /**
   * Deletes at most `batch` rows that are no longer needed at `now`; answers how many. Runs in
   * a transaction holding the sweep's lock: keep it one indexed statement.
   */
  step(tx: Db, batch: number, now: Date): Promise<number>
  /** Told, after a run, how many rows it deleted (committed), when any: metrics, logs. */
  swept?(deleted: number): void
}

export interface SweeperOptions {
  db: Db
  logger: Logger
  sweeps: readonly Sweep[]
  /** Pause between runs once started (ms). */
  every?: number
  /** Rows per transaction: small, so a batch holds its row locks only briefly. */
  batch?: number
  /** Batches per sweep per run: a backlog is worked off over several runs, never all at once. */
  maxBatches?: number
  now?: () => Date
}

export interface Sweeper {
  /** Runs every sweep now (also what the timer does); answers rows deleted per sweep. */
  runOnce(): Promise<Record<string, number>>
  /** Runs at once, then every `every` ms until stop(). */
  start(): void
  /** Stops the timer and waits for a run in progress (which ends after its current batch). */
  stop(): Promise<void>
}

/**
 * One batch of one sweep, under a transaction-scoped advisory lock: another replica sweeping
 * the same thing holds it, and this one skips (answers null) instead of queueing behind it.
 */
async function sweepBatch(db: Db, sweep: Sweep, batch: number, now: Date) {
  return db.transaction(async (tx) => {
    const result = await tx.execute(
      sql`select pg_try_advisory_xact_lock(hashtext(${`nps:sweep:${sweep.name}`})) as locked`,
    )
    const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as {
      locked: boolean
    }[]
    if (!rows[0]?.locked) return null
    return sweep.step(tx as unknown as Db, batch, now)
  })
}

/** The one sweeper of a process: every sweep, run by runOnce() (tests) or by start(). */
export function createSweeper(options: SweeperOptions): Sweeper {
  const { logger, every = 60_000 } = options
  let timer: ReturnType<typeof setTimeout> | undefined
  let running: Promise<unknown> = Promise.resolve()
  let started = false
  // Set by stop(): a run in progress ends after its current batch.
  let stopping = false
  const runOnce = () => {
    const once = sweepAll(options, () => stopping)
    running = once.catch(() => {})
    return once
  }
  const run = async () => {
    try {
      await runOnce()
    } catch (error) {
      // An outage is logged by the requests that meet it; the next run tries again.
      if (isDatabaseUnavailable(error)) logger.debug("sweep skipped: database unavailable")
      else logger.error("sweep failed", { error: describeForLog(error) })
    }
  }
  const schedule = (delay: number) => {
    if (!started) return
    timer = setTimeout(() => void run().finally(() => schedule(every)), delay)
    // A pending sweep never keeps a process alive on its own.
    timer.unref?.()
  }
  return {
    runOnce,
    start() {
      if (started) return
      started = true
      stopping = false
      schedule(0)
    },
    async stop() {
      started = false
      stopping = true
      clearTimeout(timer)
      await running
      stopping = false // runOnce() works again
    },
  }
}

async function sweepAll(
  { db, logger, sweeps, batch = 500, maxBatches = 100, now = () => new Date() }: SweeperOptions,
  stopping: () => boolean,
) {
  const deleted: Record<string, number> = {}
  for (const sweep of sweeps) {
    let total = 0
    for (let i = 0; i < maxBatches && !stopping(); i++) {
      const count = await sweepBatch(db, sweep, batch, now())
      if (count === null) break // another replica is on it
      total += count
      if (count < batch) break
    }
    deleted[sweep.name] = total
    if (total) {
      logger.debug("swept", { sweep: sweep.name, deleted: total })
      sweep.swept?.(total)
    }
  }
  return deleted
}
