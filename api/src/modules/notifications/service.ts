// Notifications: accepted durably (the notification and one delivery per reachable chat in one
// transaction), leased to the bot in per-chat acceptance order, and settled by its reports.
// The queue is two plain tables: the bot never touches the database, and pg-boss and
// graphile-worker need node-postgres and run no worker we could use here (see docs/notifications-basics.md).
import { type Db, notificationDeliveries, notifications, telegramLinks, users } from "@nps/db"
import { and, asc, eq, inArray, isNull, lt, lte, notExists, or, sql } from "drizzle-orm"
import { alias } from "drizzle-orm/pg-core"
import type { Static } from "elysia"
import type { Principal } from "../../auth"
import { ApiError, notFound } from "../../errors"
import { enqueueFinished } from "../webhooks/outbox"
import type { AcceptedNotification, NotificationView } from "./model"

/** Postgres NOTIFY channel: "deliveries may be due", a wake-up call for waiting leases. */
export const DELIVERIES_CHANNEL = "nps_deliveries"

export type DeliveryError = "blocked" | "chat_not_found" | "rejected"

export interface NotificationInput {
  username?: string | undefined
  userId?: string | undefined
  text: string
  idempotencyKey?: string | undefined
}

const d = notificationDeliveries
const earlier = alias(notificationDeliveries, "earlier")

const requestHash = (userId: string, text: string) =>
  new Bun.CryptoHasher("sha256").update(`${userId}\n${text}`).digest("hex")

const iso = (date: Date | null) => (date ? date.toISOString() : null)

async function deliveriesOf(db: Db, notificationId: string) {
  return db
    .select({
      telegram_chat_id: d.telegramChatId,
      status: d.status,
      sentAt: d.sentAt,
      error: d.error,
    })
    .from(d)
    .where(eq(d.notificationId, notificationId))
    .orderBy(asc(d.id))
}

type Accepted = Static<typeof AcceptedNotification>
type View = Static<typeof NotificationView>
type NotificationStatus = Accepted["status"]
type DeliveryStatus = Accepted["deliveries"][number]["status"]

async function accepted(db: Db, notification: { id: string; status: string }): Promise<Accepted> {
  const rows = await deliveriesOf(db, notification.id)
  return {
    id: notification.id,
    status: notification.status as NotificationStatus,
    deliveries: rows.map((r) => ({
      telegram_chat_id: r.telegram_chat_id,
      status: r.status as DeliveryStatus,
    })),
  }
}

const recipientNotFound = () => notFound("user_not_found", "No such user")

/**
 * Accepts a notification for one user: one delivery per active, unblocked linked chat, all in one
 * transaction with a NOTIFY, so a waiting bot hears of it at commit. `created` is false when the
 * sender's idempotency key names an earlier notification with the same recipient and text (then
 * nothing new is sent); another body under that key is a 409. Concurrent requests with one key
 * make one notification: the unique (sender, key) index decides, the loser reads the winner's.
 */
export function createNotification(
  db: Db,
  input: NotificationInput,
  /** The principal sending it; null: an operator at the admin CLI. */
  sender: { userId: string } | null,
  now: Date,
): Promise<{ created: boolean; notification: Accepted }> {
  return db.transaction(async (txn) => {
    const tx = txn as unknown as Db
    const [user] = await tx
      .select({ id: users.id, isActive: users.isActive })
      .from(users)
      .where(input.userId ? eq(users.id, input.userId) : eq(users.username, input.username ?? ""))
      .limit(1)
    if (!user) throw recipientNotFound()
    if (!user.isActive) throw notFound("user_inactive", "That user is deactivated")
    const hash = requestHash(user.id, input.text)

    const replay = async () => {
      const [previous] = await tx
        .select({
          id: notifications.id,
          status: notifications.status,
          hash: notifications.requestHash,
        })
        .from(notifications)
        .where(
          and(
            sender ? eq(notifications.createdBy, sender.userId) : isNull(notifications.createdBy),
            eq(notifications.idempotencyKey, input.idempotencyKey ?? ""),
          ),
        )
      if (!previous) return undefined
      if (previous.hash !== hash)
        throw new ApiError(
          409,
          "idempotency_key_reused",
          "This idempotency_key was used for a different notification; use a new key for a new message",
        )
      return { created: false, notification: await accepted(tx, previous) }
    }
    if (input.idempotencyKey) {
      const earlierReply = await replay()
      if (earlierReply) return earlierReply
    }

    const reachable = and(
      eq(telegramLinks.userId, user.id),
      eq(telegramLinks.isActive, true),
      isNull(telegramLinks.blockedAt),
    )
    const [{ chats } = { chats: 0 }] = await tx
      .select({ chats: sql<number>`count(*)`.mapWith(Number) })
      .from(telegramLinks)
      .where(reachable)
    const [notification] = await tx
      .insert(notifications)
      .values({
        userId: user.id,
        text: input.text,
        status: chats ? "queued" : "undeliverable",
        idempotencyKey: input.idempotencyKey ?? null,
        requestHash: hash,
        createdBy: sender?.userId ?? null,
        createdAt: now,
      })
      .onConflictDoNothing({ target: [notifications.createdBy, notifications.idempotencyKey] })
      .returning({ id: notifications.id, status: notifications.status })
    if (!notification) {
      // A concurrent request with the same key committed first.
      const raced = await replay()
      if (raced) return raced
      throw new Error("idempotency conflict without a row")
    }
    if (chats) {
      // One set-based statement, whatever the number of chats: a row of parameters per chat
      // overflowed the protocol's 65,535 parameters at 21,845 chats. Link order is id order.
      await tx.execute(sql`
        insert into ${d} (${sql.identifier(d.notificationId.name)}, ${sql.identifier(d.telegramChatId.name)}, ${sql.identifier(d.availableAt.name)})
        select ${notification.id}, ${telegramLinks.telegramChatId}, ${now.toISOString()}::timestamptz
        from ${telegramLinks} where ${reachable} order by ${telegramLinks.id}`)
      await tx.execute(sql`select pg_notify(${DELIVERIES_CHANNEL}, '')`)
    }
    // HOOK (status webhooks, issue 19): a notification final at birth (undeliverable).
    if (!chats) await enqueueFinished(tx, [notification.id], now)
    return { created: true, notification: await accepted(tx, notification) }
  })
}

/** A notification as GET shows it: the sender's own, or any for an admin. */
export async function getNotification(db: Db, id: string, viewer: Principal): Promise<View> {
  const [row] = await db
    .select({
      id: notifications.id,
      status: notifications.status,
      createdAt: notifications.createdAt,
      createdBy: notifications.createdBy,
    })
    .from(notifications)
    .where(eq(notifications.id, id))
  // Someone else's notification reads as missing: its id says nothing to a stranger.
  if (!row || (viewer.role !== "admin" && row.createdBy !== viewer.userId))
    throw notFound("notification_not_found", "No such notification")
  const rows = await deliveriesOf(db, id)
  return {
    id: row.id,
    status: row.status as NotificationStatus,
    created_at: row.createdAt.toISOString(),
    deliveries: rows.map((r) => ({
      telegram_chat_id: r.telegram_chat_id,
      status: r.status as DeliveryStatus,
      sent_at: iso(r.sentAt),
      error: r.error as DeliveryError | null,
    })),
  }
}

/**
 * Due, queued deliveries that are each the oldest queued one of their chat: a chat's next message
 * cannot be leased until the one before it is settled, so however many bot processes lease at
 * once, one chat's messages go out in acceptance order. Leased rows are skipped, not waited for.
 */
const chatHead = (db: Db) =>
  and(
    eq(d.status, "queued"),
    notExists(
      db
        .select({ one: sql`1` })
        .from(earlier)
        .where(
          and(
            eq(earlier.status, "queued"),
            eq(earlier.telegramChatId, d.telegramChatId),
            lt(earlier.id, d.id),
          ),
        ),
    ),
  )

export interface LeaseOptions {
  max: number
  leaseMs: number
}

export async function leaseDeliveries(db: Db, { max, leaseMs }: LeaseOptions, now: Date) {
  const leaseId = crypto.randomUUID()
  const leasedUntil = new Date(now.getTime() + leaseMs)
  const picked = db.$with("picked").as(
    db
      .select({ id: d.id })
      .from(d)
      .where(
        and(
          chatHead(db),
          lte(d.availableAt, now),
          // A chat whose head is leased waits until that lease is settled or expires.
          or(isNull(d.leasedUntil), lte(d.leasedUntil, now)),
        ),
      )
      .orderBy(asc(d.id))
      .limit(max)
      .for("update", { skipLocked: true }),
  )
  const rows = await db
    .with(picked)
    .update(d)
    .set({ leaseId, leasedUntil, attempts: sql`${d.attempts} + 1` })
    .from(picked)
    .where(eq(d.id, picked.id))
    .returning({
      id: d.id,
      notificationId: d.notificationId,
      chatId: d.telegramChatId,
      attempts: d.attempts,
    })
  rows.sort((a, b) => a.id - b.id)
  const ids = [...new Set(rows.map((r) => r.notificationId))]
  const texts = new Map(
    ids.length
      ? (
          await db
            .select({ id: notifications.id, text: notifications.text })
            .from(notifications)
            .where(inArray(notifications.id, ids))
        ).map((n) => [n.id, n.text])
      : [],
  )
  return {
    lease_id: leaseId,
    lease_expires_at: leasedUntil.toISOString(),
    lease_seconds: Math.round(leaseMs / 1000),
    deliveries: rows.map((r) => ({
      id: r.id,
      notification_id: r.notificationId,
      telegram_chat_id: r.chatId,
      text: texts.get(r.notificationId) ?? "",
      attempts: r.attempts,
    })),
  }
}

/** Milliseconds until some chat's next delivery is due (available, or its lease expired). */
export async function nextDueInMs(db: Db, now: Date): Promise<number | undefined> {
  const [row] = await db
    .select({
      at: sql<
        number | null
      >`extract(epoch from min(greatest(${d.availableAt}, coalesce(${d.leasedUntil}, ${d.availableAt})))) * 1000`.mapWith(
        (v) => (v === null ? null : Number(v)),
      ),
    })
    .from(d)
    .where(chatHead(db))
  return row?.at === null || row?.at === undefined ? undefined : row.at - now.getTime()
}

export interface DeliveryResult {
  id: number
  leaseId: string
  outcome: "sent" | "retry" | "failed"
  retryAfterSeconds?: number | undefined
  error?: DeliveryError | undefined
  chatId?: number | undefined
}

/** A failure that says the chat itself is unreachable: its other queued messages fail with it. */
const CHAT_WIDE: ReadonlySet<DeliveryError> = new Set(["blocked", "chat_not_found"])

/**
 * Records the bot's results in one transaction. Only the current lease holder may settle a
 * delivery: a result for an expired lease (taken again since) is counted as stale and ignored.
 * `blocked` also marks the chat blocked; a chat-wide failure fails the chat's other queued
 * deliveries; `chat_id` on a sent result moves the chat's queued deliveries to the new id. Each
 * touched notification's status is recomputed, and waiting leases are woken.
 */
export function reportDeliveries(db: Db, results: DeliveryResult[], now: Date) {
  for (const r of results) {
    if (r.outcome === "failed" && !r.error)
      throw new ApiError(
        422,
        "validation_error",
        "Invalid results: error is required when outcome is failed",
      )
  }
  return db.transaction(async (txn) => {
    const tx = txn as unknown as Db
    let applied = 0
    let stale = 0
    const touched = new Set<string>()
    const owned = (r: DeliveryResult) =>
      and(eq(d.id, r.id), eq(d.leaseId, r.leaseId), eq(d.status, "queued"))
    const released = { leaseId: null, leasedUntil: null }
    for (const r of results) {
      const [row] = await tx
        .select({ chatId: d.telegramChatId, notificationId: d.notificationId })
        .from(d)
        .where(owned(r))
        .for("update")
      if (!row) {
        stale++
        continue
      }
      applied++
      touched.add(row.notificationId)
      if (r.outcome === "retry") {
        const delayMs = (r.retryAfterSeconds ?? 0) * 1000
        await tx
          .update(d)
          .set({ ...released, availableAt: new Date(now.getTime() + delayMs) })
          .where(eq(d.id, r.id))
        continue
      }
      if (r.outcome === "sent") {
        const chatId = r.chatId ?? row.chatId
        await tx
          .update(d)
          .set({ ...released, status: "sent", sentAt: now, error: null, telegramChatId: chatId })
          .where(eq(d.id, r.id))
        if (chatId !== row.chatId)
          await tx
            .update(d)
            .set({ telegramChatId: chatId })
            .where(and(eq(d.telegramChatId, row.chatId), eq(d.status, "queued")))
        continue
      }
      const error = r.error as DeliveryError
      await tx
        .update(d)
        .set({ ...released, status: "failed", error })
        .where(eq(d.id, r.id))
      if (!CHAT_WIDE.has(error)) continue
      const others = await tx
        .update(d)
        .set({ ...released, status: "failed", error })
        .where(and(eq(d.telegramChatId, row.chatId), eq(d.status, "queued")))
        .returning({ notificationId: d.notificationId })
      for (const o of others) touched.add(o.notificationId)
      if (error === "blocked")
        await tx
          .update(telegramLinks)
          .set({
            blockedAt: sql`coalesce(${telegramLinks.blockedAt}, ${now.toISOString()}::timestamptz)`,
          })
          .where(eq(telegramLinks.telegramChatId, row.chatId))
    }
    // One notification at a time, in id order: concurrent reports lock them in the same order.
    for (const id of [...touched].sort()) await settleStatus(tx, id)
    // HOOK (status webhooks, issue 19): those that became final get their outbox rows.
    await enqueueFinished(tx, [...touched].sort(), now)
    if (applied) await tx.execute(sql`select pg_notify(${DELIVERIES_CHANNEL}, '')`)
    return { applied, stale }
  })
}

/** queued while any delivery is; then sent (all sent), failed (all failed) or partial. */
async function settleStatus(db: Db, notificationId: string) {
  await db
    .update(notifications)
    .set({
      status: sql`(select case
        when bool_or(${d.status} = 'queued') then 'queued'
        when bool_and(${d.status} = 'sent') then 'sent'
        when bool_and(${d.status} = 'failed') then 'failed'
        else 'partial' end
        from ${d} where ${d.notificationId} = ${notifications.id})`,
    })
    .where(eq(notifications.id, notificationId))
}
