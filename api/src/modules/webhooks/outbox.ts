// The status-webhook outbox: one row per (finished notification, endpoint of its sender), written
// in the transaction that finishes the notification, so an event is never lost nor invented.
// Replicas lease due rows with FOR UPDATE SKIP LOCKED and a lease deadline: each row is sent by
// one of them, and a replica that dies mid-send leaves it to be taken again after the lease.
import { type Db, notifications, webhookEndpoints, webhookMessages } from "@nps/db"
import { and, asc, eq, inArray, isNull, lte, or, sql } from "drizzle-orm"

/** Statuses after which nothing more happens to a notification. */
export const FINAL_STATUSES = ["sent", "partial", "failed", "skipped", "undeliverable"] as const

const m = webhookMessages
const n = notifications

/**
 * THE hook for the notification service: call it, inside the transaction that may have made
 * notifications final, with their ids. Those now final are stamped `finished_at` (retention
 * counts from it) and get one outbox row per endpoint of their sender; others are left alone.
 * Idempotent: calling it twice for one notification writes nothing more.
 */
export async function enqueueFinished(tx: Db, notificationIds: readonly string[], now: Date) {
  if (notificationIds.length === 0) return
  const finished = await tx
    .update(n)
    .set({ finishedAt: now })
    .where(
      and(
        inArray(n.id, [...notificationIds]),
        inArray(n.status, [...FINAL_STATUSES]),
        isNull(n.finishedAt),
      ),
    )
    .returning({ id: n.id, createdBy: n.createdBy })
  // An operator's notification (admin CLI) has no sender, hence no endpoint.
  const senders = [...new Set(finished.flatMap((f) => (f.createdBy ? [f.createdBy] : [])))]
  if (senders.length === 0) return
  const endpoints = await tx
    .select({ id: webhookEndpoints.id, userId: webhookEndpoints.userId })
    .from(webhookEndpoints)
    .where(inArray(webhookEndpoints.userId, senders))
  const rows = finished.flatMap((f) =>
    endpoints
      .filter((e) => e.userId === f.createdBy)
      .map((e) => ({
        msgId: `msg_${crypto.randomUUID().replaceAll("-", "")}`,
        endpointId: e.id,
        notificationId: f.id,
        createdAt: now,
        availableAt: now,
      })),
  )
  if (rows.length) await tx.insert(m).values(rows).onConflictDoNothing()
}

export interface LeasedMessage {
  id: number
  /** This lease's deadline, which also identifies it: only its holder may settle the attempt. */
  leasedUntil: Date
  msgId: string
  notificationId: string
  attempts: number
  createdAt: Date
  endpointId: string
  url: string
  secret: string
}

/** Takes up to `max` due messages for `leaseMs`; a row another replica holds is skipped. */
export async function leaseMessages(
  db: Db,
  { max, leaseMs }: { max: number; leaseMs: number },
  now: Date,
): Promise<LeasedMessage[]> {
  const picked = db.$with("picked").as(
    db
      .select({ id: m.id })
      .from(m)
      .where(
        and(
          eq(m.status, "pending"),
          lte(m.availableAt, now),
          or(isNull(m.leasedUntil), lte(m.leasedUntil, now)),
        ),
      )
      .orderBy(asc(m.availableAt))
      .limit(max)
      .for("update", { skipLocked: true }),
  )
  const leasedUntil = new Date(now.getTime() + leaseMs)
  const leased = await db
    .with(picked)
    .update(m)
    .set({ leasedUntil, attempts: sql`${m.attempts} + 1` })
    .from(picked)
    .where(eq(m.id, picked.id))
    .returning({ id: m.id })
  if (leased.length === 0) return []
  const rows = await db
    .select({
      id: m.id,
      msgId: m.msgId,
      notificationId: m.notificationId,
      attempts: m.attempts,
      createdAt: m.createdAt,
      endpointId: webhookEndpoints.id,
      url: webhookEndpoints.url,
      secret: webhookEndpoints.secret,
    })
    .from(m)
    .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, m.endpointId))
    .where(
      inArray(
        m.id,
        leased.map((r) => r.id),
      ),
    )
    .orderBy(asc(m.id))
  return rows.map((row) => ({ ...row, leasedUntil }))
}

export type Outcome =
  | { kind: "sent" }
  | { kind: "retry"; at: Date; error: string }
  | {
      kind: "given_up"
      error: string
    }

/**
 * Settles one attempt of a pending message. `uncounted`: the attempt was cut short by our own
 * shutdown, so it does not use up a retry.
 */
export async function settleMessage(
  db: Db,
  message: Pick<LeasedMessage, "id" | "leasedUntil">,
  outcome: Outcome,
  uncounted = false,
): Promise<void> {
  // A lease that ran out was taken again by another replica: its attempt decides, not this one.
  const pending = and(
    eq(m.id, message.id),
    eq(m.status, "pending"),
    eq(m.leasedUntil, message.leasedUntil),
  )
  if (outcome.kind === "sent")
    await db.update(m).set({ status: "sent", leasedUntil: null, lastError: null }).where(pending)
  else if (outcome.kind === "retry")
    await db
      .update(m)
      .set({
        availableAt: outcome.at,
        leasedUntil: null,
        lastError: outcome.error.slice(0, 200),
        ...(uncounted && { attempts: sql`${m.attempts} - 1` }),
      })
      .where(pending)
  else
    await db
      .update(m)
      .set({ status: "failed", leasedUntil: null, lastError: outcome.error.slice(0, 200) })
      .where(pending)
}

/** Milliseconds until the next pending message is due (ignoring leases), if any. */
export async function nextMessageDueInMs(db: Db, now: Date): Promise<number | undefined> {
  const [row] = await db
    .select({ at: m.availableAt })
    .from(m)
    .where(eq(m.status, "pending"))
    .orderBy(asc(m.availableAt))
    .limit(1)
  return row ? Math.max(0, row.at.getTime() - now.getTime()) : undefined
}
