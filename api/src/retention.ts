// Retention: finished notifications older than NOTIFICATION_RETENTION_DAYS are deleted in the
// background, a small batch per transaction (their deliveries and webhook messages go by ON
// DELETE CASCADE), so a sweep never holds many locks nor blocks sending. One replica sweeps at a
// time (a transaction-scoped advisory lock); rows another transaction holds are skipped.
import { type Db, notifications } from "@nps/db"
import type { Logger } from "@nps/log"
import { and, asc, inArray, isNotNull, lt, sql } from "drizzle-orm"
import { describeForLog, isDatabaseUnavailable } from "./errors"

const DAY_MS = 86_400_000
// Any constant, the same for every replica; distinct from the migration lock.
const RETENTION_LOCK = 7_243_019

export interface RetentionOptions {
  db: Db
  logger: Logger
  now: () => Date
  days: number
  /** Notifications deleted per transaction. */
  batch?: number
  /** How often a sweep runs. */
  intervalMs?: number
  onDeleted?: (count: number) => void
}

/** One batch; resolves to how many were deleted, or null when another replica is sweeping. */
function deleteBatch(db: Db, cutoff: Date, batch: number): Promise<number | null> {
  return db.transaction(async (txn) => {
    const tx = txn as unknown as Db
    const result: unknown = await tx.execute(
      sql`select pg_try_advisory_xact_lock(${RETENTION_LOCK}) as ok`,
    )
    // postgres.js answers an array of rows, PGlite an object holding them.
    const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as {
      ok: boolean
    }[]
    if (!rows[0]?.ok) return null
    const old = tx
      .select({ id: notifications.id })
      .from(notifications)
      .where(and(isNotNull(notifications.finishedAt), lt(notifications.finishedAt, cutoff)))
      .orderBy(asc(notifications.finishedAt))
      .limit(batch)
      .for("update", { skipLocked: true })
    const gone = await tx
      .delete(notifications)
      .where(inArray(notifications.id, old))
      .returning({ id: notifications.id })
    return gone.length
  })
}

export function createRetention(options: RetentionOptions) {
  const { db, logger, now, days } = options
  const batch = options.batch ?? 500
  const intervalMs = options.intervalMs ?? 60_000
  let stopping = new AbortController()
  let running: Promise<void> | undefined

  /** Deletes everything due now, batch after batch; resolves to the number deleted. */
  async function sweep(): Promise<number> {
    const cutoff = new Date(now().getTime() - days * DAY_MS)
    let total = 0
    while (!stopping.signal.aborted) {
      const deleted = await deleteBatch(db, cutoff, batch)
      if (deleted === null) break
      total += deleted
      options.onDeleted?.(deleted)
      if (deleted < batch) break
    }
    if (total) logger.info("retention deleted finished notifications", { deleted: total, days })
    return total
  }

  async function loop(signal: AbortSignal) {
    while (!signal.aborted) {
      try {
        await sweep()
      } catch (error) {
        const log = isDatabaseUnavailable(error) ? logger.debug : logger.error
        log("retention sweep failed; will try again", { error: describeForLog(error) })
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, intervalMs)
        signal.addEventListener(
          "abort",
          () => {
            clearTimeout(timer)
            resolve()
          },
          { once: true },
        )
      })
    }
  }

  return {
    sweep,
    start() {
      if (running) return
      stopping = new AbortController()
      running = loop(stopping.signal)
    },
    async stop() {
      stopping.abort()
      await running
      running = undefined
    },
  }
}

export type Retention = ReturnType<typeof createRetention>
