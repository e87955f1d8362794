// The one place a notification's status is computed, and so the one place it becomes final:
// every change to its deliveries (accepted, leased, held, skipped, expired, reported) ends with
// finishNotifications over the notifications it touched. (A single accept with queued deliveries
// inserts the status this would compute, scheduled or queued, and skips the statement.)
import { type Db, notificationDeliveries as d, notifications } from "@nps/db"
import { type AnyColumn, and, asc, eq, inArray, isNotNull, lte, or, sql } from "drizzle-orm"
import { enqueueFinished, FINAL_STATUSES } from "../webhooks/outbox"

export type NotificationStatus =
  | "scheduled"
  | "queued"
  | "sent"
  | "partial"
  | "failed"
  | "skipped"
  | "undeliverable"

const FINAL: ReadonlySet<NotificationStatus> = new Set(FINAL_STATUSES)

// The states are written into the SQL, not sent as parameters: a prepared statement's generic
// plan can use the partial indexes (WHERE status = 'queued' / 'scheduled') only when it sees them.
const RELEASE_BATCH = 1000

export const isQueued = (status: AnyColumn) => sql`${status} = 'queued'`
const isScheduled = (status: AnyColumn) => sql`${status} = 'scheduled'`

export interface Finished {
  id: string
  status: NotificationStatus
}

/**
 * Recomputes the status of each notification from its deliveries and returns those that reached
 * a final status in this call (each once: a final status never changes again). Notifications are
 * locked in id order, so concurrent callers never deadlock on them.
 *
 * scheduled: a delivery is queued and send_at is ahead; queued: one is queued; then sent (every
 * delivery sent, skipped ones aside), partial (some sent, some failed), failed (none sent, some
 * failed), skipped (every one skipped); undeliverable: there was no chat to send to.
 */
export async function finishNotifications(
  tx: Db,
  ids: Iterable<string>,
  now: Date,
): Promise<Finished[]> {
  const sorted = [...new Set(ids)].sort()
  if (!sorted.length) return []
  const at = sql`${now.toISOString()}::timestamptz`
  const rows = await tx
    .update(notifications)
    .set({
      status: sql`(select case
        when count(*) = 0 then 'undeliverable'
        when bool_or(${d.status} = 'queued') then
          case when ${notifications.sendAt} > ${at} then 'scheduled' else 'queued' end
        when bool_and(${d.status} = 'skipped') then 'skipped'
        when bool_and(${d.status} in ('sent', 'skipped')) then 'sent'
        when bool_or(${d.status} = 'sent') then 'partial'
        else 'failed' end
        from ${d} where ${d.notificationId} = ${notifications.id})`,
    })
    .where(
      and(
        inArray(notifications.id, sorted),
        inArray(notifications.status, ["scheduled", "queued"]),
      ),
    )
    .returning({ id: notifications.id, status: notifications.status })
  const finished = rows
    .map((r) => ({ id: r.id, status: r.status as NotificationStatus }))
    .filter((r) => FINAL.has(r.status))
  // Status webhooks (issue 19): the outbox rows are written in the transaction that finishes them.
  await enqueueFinished(
    tx,
    finished.map((f) => f.id),
    now,
  )
  return finished
}

/**
 * What time alone changes: queued deliveries past expires_at fail with `expired` (unless leased
 * right now: the bot is sending them), and scheduled notifications whose send_at passed become
 * queued. Both found by index; `notificationId` narrows it to one notification (GET). Answers
 * the notifications touched, for the caller's one finishNotifications (one batch of locks taken
 * in id order: two batches could deadlock with a concurrent report).
 */
export async function settleDue(tx: Db, now: Date, notificationId?: string): Promise<string[]> {
  const one = notificationId ? eq(d.notificationId, notificationId) : undefined
  // Held ones whose time came become ordinary queued ones, a batch per lease (a mass send_at
  // releases over a few leases instead of in one long statement).
  const released = tx
    .select({ id: d.id })
    .from(d)
    .where(and(isQueued(d.status), isNotNull(d.holdUntil), lte(d.holdUntil, now), one))
    .orderBy(asc(d.holdUntil), asc(d.id))
    .limit(RELEASE_BATCH)
  await tx.update(d).set({ holdUntil: null }).where(inArray(d.id, released))
  const expired = await tx
    .update(d)
    .set({ status: "failed", error: "expired", leaseId: null, leasedUntil: null })
    .where(
      and(
        isQueued(d.status),
        isNotNull(d.expiresAt),
        lte(d.expiresAt, now),
        or(sql`${d.leasedUntil} is null`, lte(d.leasedUntil, now)),
        one,
      ),
    )
    .returning({ id: d.notificationId })
  const due = await tx
    .select({ id: notifications.id })
    .from(notifications)
    .where(
      and(
        isScheduled(notifications.status),
        lte(notifications.sendAt, now),
        notificationId ? eq(notifications.id, notificationId) : undefined,
      ),
    )
  return [...expired, ...due].map((r) => r.id)
}
