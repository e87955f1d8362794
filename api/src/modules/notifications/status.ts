// The one place a notification's status is computed, and so the one place it becomes final:
// every change to its deliveries (accepted, leased, held, skipped, expired, reported) ends with
// finishNotifications over the notifications it touched.
import { type Db, notificationDeliveries as d, notifications } from "@nps/db"
import { and, eq, inArray, isNotNull, lte, or, sql } from "drizzle-orm"

export type NotificationStatus =
  | "scheduled"
  | "queued"
  | "sent"
  | "partial"
  | "failed"
  | "skipped"
  | "undeliverable"

export const FINAL_STATUSES: ReadonlySet<NotificationStatus> = new Set([
  "sent",
  "partial",
  "failed",
  "skipped",
  "undeliverable",
])

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
  return rows
    .map((r) => ({ id: r.id, status: r.status as NotificationStatus }))
    .filter((r) => FINAL_STATUSES.has(r.status))
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
  const expired = await tx
    .update(d)
    .set({ status: "failed", error: "expired", leaseId: null, leasedUntil: null })
    .where(
      and(
        eq(d.status, "queued"),
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
        eq(notifications.status, "scheduled"),
        lte(notifications.sendAt, now),
        notificationId ? eq(notifications.id, notificationId) : undefined,
      ),
    )
  return [...expired, ...due].map((r) => r.id)
}
