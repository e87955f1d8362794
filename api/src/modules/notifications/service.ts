// Notifications: accepted durably (the notification and one delivery per reachable chat in one
// transaction), leased to the bot in per-chat acceptance order, and settled by its reports.
// The queue is two plain tables: the bot never touches the database, and pg-boss and
// graphile-worker need node-postgres and run no worker we could use here (see docs/notifications-basics.md).
import {
  type Db,
  notificationDeliveries,
  notifications,
  telegramLinks,
  userPreferences,
  users,
} from "@nps/db"
import { and, asc, eq, isNotNull, isNull, lte, or, sql } from "drizzle-orm"
import type { Static } from "elysia"
import type { Principal } from "../../auth"
import { ApiError, notFound } from "../../errors"
import { DEFAULT_CATEGORY, type Language } from "../preferences/model"
import { MAX_CATEGORIES } from "../preferences/service"
import { chatHead } from "./lease"
import type { AcceptedNotification, NotificationView } from "./model"
import { prepareNotification, type RichOptions } from "./prepare"
import { finishNotifications, isQueued, settleDue } from "./status"

/** Postgres NOTIFY channel: "deliveries may be due", a wake-up call for waiting leases. */
export const DELIVERIES_CHANNEL = "nps_deliveries"

export type DeliveryError = "blocked" | "chat_not_found" | "rejected" | "expired" | "muted"

export interface NotificationInput {
  username?: string | undefined
  userId?: string | undefined
  text: string
  idempotencyKey?: string | undefined
  /** format, buttons, split, category, send_at, translations…: all optional. */
  options?: RichOptions | undefined
}

const d = notificationDeliveries

// Every field counts; a request without options hashes as it did before they existed, so a retry
// across the upgrade still finds its notification.
const requestHash = (userId: string, text: string, canonical: string) =>
  new Bun.CryptoHasher("sha256")
    .update(`${userId}\n${text}${canonical ? `\n${canonical}` : ""}`)
    .digest("hex")

const iso = (date: Date | null) => (date ? date.toISOString() : null)

async function deliveriesOf(db: Db, notificationId: string) {
  return db
    .select({
      telegram_chat_id: d.telegramChatId,
      status: d.status,
      sentAt: d.sentAt,
      error: d.error,
      language: d.language,
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

/**
 * The user's preferences list every category they received, so they can switch it off: a new
 * one is added (on). Written only when new; `general` is always listed anyway.
 */
async function noteCategory(tx: Db, userId: string, category: string) {
  if (category === DEFAULT_CATEGORY) return
  const entry = JSON.stringify({ [category]: true })
  await tx
    .insert(userPreferences)
    .values({ userId, categories: { [category]: true } })
    .onConflictDoUpdate({
      target: userPreferences.userId,
      set: { categories: sql`${entry}::jsonb || ${userPreferences.categories}` },
      setWhere: sql`not jsonb_exists(${userPreferences.categories}, ${category})
        and (select count(*) from jsonb_object_keys(${userPreferences.categories})) < ${MAX_CATEGORIES}`,
    })
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
  // Checked before the database is asked anything: a bad request costs no transaction.
  const prepared = prepareNotification(input.text, input.options ?? {}, now)
  return db.transaction(async (txn) => {
    const tx = txn as unknown as Db
    const [user] = await tx
      .select({ id: users.id, isActive: users.isActive })
      .from(users)
      .where(input.userId ? eq(users.id, input.userId) : eq(users.username, input.username ?? ""))
      .limit(1)
    if (!user) throw recipientNotFound()
    if (!user.isActive) throw notFound("user_inactive", "That user is deactivated")
    const hash = requestHash(user.id, input.text, prepared.canonical)

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
        messages: prepared.messages,
        category: prepared.category,
        priority: prepared.priority,
        sendAt: prepared.sendAt,
        expiresAt: prepared.expiresAt,
        // Computed below from the deliveries, like every later status.
        status: "queued",
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
      const holdUntil = prepared.sendAt?.toISOString() ?? null
      const expiresAt = prepared.expiresAt?.toISOString() ?? null
      await tx.execute(sql`
        insert into ${d} (${sql.identifier(d.notificationId.name)}, ${sql.identifier(d.telegramChatId.name)}, ${sql.identifier(d.availableAt.name)}, ${sql.identifier(d.holdUntil.name)}, ${sql.identifier(d.expiresAt.name)})
        select ${notification.id}, ${telegramLinks.telegramChatId}, ${now.toISOString()}::timestamptz, ${holdUntil}::timestamptz, ${expiresAt}::timestamptz
        from ${telegramLinks} where ${reachable} order by ${telegramLinks.id}`)
      await tx.execute(sql`select pg_notify(${DELIVERIES_CHANNEL}, '')`)
    }
    await noteCategory(tx, user.id, prepared.category)
    const [final] = await finishNotifications(tx, [notification.id], now)
    return {
      created: true,
      notification: await accepted(tx, {
        id: notification.id,
        status: final?.status ?? (prepared.sendAt ? "scheduled" : "queued"),
      }),
    }
  })
}

/** A notification as GET shows it: the sender's own, or any for an admin. */
export async function getNotification(
  db: Db,
  id: string,
  viewer: Principal,
  now: Date,
): Promise<View> {
  // Expiry and send_at are due by the clock alone: the answer is true even while no bot leases.
  await db.transaction(async (tx) => {
    const due = await settleDue(tx as unknown as Db, now, id)
    await finishNotifications(tx as unknown as Db, due, now)
  })
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
      language: r.language as Language | null,
    })),
  }
}

/** Milliseconds until a delivery may be due (available, its lease or hold over, or expiring). */
export async function nextDueInMs(db: Db, now: Date): Promise<number | undefined> {
  const ms = (v: unknown) => (v === null || v === undefined ? null : Number(v))
  const [head] = await db
    .select({
      at: sql<
        number | null
      >`extract(epoch from min(greatest(${d.availableAt}, coalesce(${d.leasedUntil}, ${d.availableAt}), coalesce(${d.holdUntil}, ${d.availableAt})))) * 1000`.mapWith(
        ms,
      ),
    })
    .from(d)
    .where(chatHead(db))
  const [expiry] = await db
    .select({
      at: sql<number | null>`extract(epoch from min(${d.expiresAt})) * 1000`.mapWith(ms),
    })
    .from(d)
    .where(
      and(
        isQueued(d.status),
        isNotNull(d.expiresAt),
        // One being sent right now is the bot's: settled by its report.
        or(isNull(d.leasedUntil), lte(d.leasedUntil, now)),
      ),
    )
  const times = [head?.at, expiry?.at].filter((t): t is number => typeof t === "number")
  return times.length ? Math.min(...times) - now.getTime() : undefined
}
