// Retention: finished notifications older than NOTIFICATION_RETENTION_DAYS are deleted by the
// background sweeper (sweeper.ts: small batches, one replica at a time); their deliveries and
// webhook messages go by ON DELETE CASCADE. Rows another transaction holds are skipped, so a
// sweep never blocks sending.
import { notifications } from "@nps/db"
import type { Logger } from "@nps/log"
import { and, asc, inArray, isNotNull, lt } from "drizzle-orm"
import type { Sweep } from "./sweeper"

const DAY_MS = 86_400_000

export interface RetentionOptions {
  days: number
  logger: Logger
  /** Told how many were deleted (committed): nps_notifications_deleted_total. */
  onDeleted?: (count: number) => void
}

export function notificationRetention({ days, logger, onDeleted }: RetentionOptions): Sweep {
  return {
    name: "notification_retention",
    async step(db, batch, now) {
      const cutoff = new Date(now.getTime() - days * DAY_MS)
      const old = db
        .select({ id: notifications.id })
        .from(notifications)
        .where(and(isNotNull(notifications.finishedAt), lt(notifications.finishedAt, cutoff)))
        .orderBy(asc(notifications.finishedAt))
        .limit(batch)
        .for("update", { skipLocked: true })
      const gone = await db
        .delete(notifications)
        .where(inArray(notifications.id, old))
        .returning({ id: notifications.id })
      return gone.length
    },
    swept(deleted) {
      onDeleted?.(deleted)
      logger.info("retention deleted finished notifications", { deleted, days })
    },
  }
}
