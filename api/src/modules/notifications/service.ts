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
import { and, asc, eq, isNull, sql } from "drizzle-orm"
import type { Static } from "elysia"
import type { Principal } from "../../auth"
import { ApiError, notFound } from "../../errors"
import { DEFAULT_CATEGORY, type Language } from "../preferences/model"
import { MAX_CATEGORIES } from "../preferences/service"
import type { AcceptedNotification, NotificationView } from "./model"
import { type Prepared, prepareNotification, type RichOptions } from "./prepare"
import { finishNotifications, settleDue } from "./status"

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
export const requestHash = (userId: string, text: string, canonical: string) =>
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
export async function noteCategory(tx: Db, userId: string, category: string) {
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

export const recipientNotFound = () => notFound("user_not_found", "No such user")
export const recipientInactive = () => notFound("user_inactive", "That user is deactivated")
export const keyReused = () =>
  new ApiError(
    409,
    "idempotency_key_reused",
    "This idempotency_key was used for a different notification; use a new key for a new message",
  )

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
    if (!user.isActive) throw recipientInactive()
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
      if (previous.hash !== hash) throw keyReused()
      return { created: false, notification: await accepted(tx, previous) }
    }
    if (input.idempotencyKey) {
      const earlierReply = await replay()
      if (earlierReply) return earlierReply
    }

    const inserted = await insertNotification(tx, {
      userId: user.id,
      text: input.text,
      idempotencyKey: input.idempotencyKey ?? null,
      hash,
      createdBy: sender?.userId ?? null,
      prepared,
      now,
    })
    if (!inserted) {
      // A concurrent request with the same key committed first.
      const raced = await replay()
      if (raced) return raced
      throw new Error("idempotency conflict without a row")
    }
    const { notification, deliveries } = inserted
    await noteCategory(tx, user.id, prepared.category)
    // A queued delivery leaves it scheduled or queued, as inserted: no statement needed for that.
    const [final] = deliveries.length ? [] : await finishNotifications(tx, [notification.id], now)
    return {
      created: true,
      notification: {
        id: notification.id,
        status: final?.status ?? (notification.status as NotificationStatus),
        deliveries,
      },
    }
  })
}

/** What finishNotifications computes for a notification whose deliveries are all queued. */
const initialStatus = (prepared: { sendAt: Date | null }, now: Date): NotificationStatus =>
  prepared.sendAt && prepared.sendAt > now ? "scheduled" : "queued"

const col = (c: { name: string }) => sql.identifier(c.name)
const timestamp = (at: Date | null) => sql`${at?.toISOString() ?? null}::timestamptz`

/**
 * The notification and one delivery per reachable chat (in link, that is id, order) in one
 * statement, answered as inserted (no re-read), with the NOTIFY when a delivery was inserted:
 * one round trip, whatever the number of chats. Undefined: the (sender, key) was taken first.
 */
async function insertNotification(
  tx: Db,
  row: {
    userId: string
    text: string
    idempotencyKey: string | null
    hash: string
    createdBy: string | null
    prepared: Prepared
    now: Date
  },
) {
  const { prepared, now } = row
  const n = notifications
  const l = telegramLinks
  // As text, then cast: postgres.js would encode a string sent as jsonb once more.
  const messages = prepared.messages ? JSON.stringify(prepared.messages) : null
  const result = await tx.execute(sql`
    with n as (
      insert into ${n} (${col(n.userId)}, ${col(n.text)}, ${col(n.messages)}, ${col(n.category)}, ${col(n.priority)}, ${col(n.sendAt)}, ${col(n.expiresAt)}, ${col(n.status)}, ${col(n.idempotencyKey)}, ${col(n.requestHash)}, ${col(n.createdBy)}, ${col(n.createdAt)})
      values (${row.userId}, ${row.text}, ${messages}::text::jsonb, ${prepared.category}, ${prepared.priority}, ${timestamp(prepared.sendAt)}, ${timestamp(prepared.expiresAt)}, ${initialStatus(prepared, now)}, ${row.idempotencyKey}, ${row.hash}, ${row.createdBy}, ${timestamp(now)})
      on conflict (${col(n.createdBy)}, ${col(n.idempotencyKey)}) do nothing
      returning ${col(n.id)} as id, ${col(n.status)} as status, ${col(n.userId)} as user_id),
    ins as (
      insert into ${d} (${col(d.notificationId)}, ${col(d.telegramChatId)}, ${col(d.availableAt)}, ${col(d.holdUntil)}, ${col(d.expiresAt)})
      select n.id, ${l.telegramChatId}, ${timestamp(now)}, ${timestamp(prepared.sendAt)}, ${timestamp(prepared.expiresAt)}
      from n join ${l} on ${l.userId} = n.user_id and ${l.isActive} and ${l.blockedAt} is null
      order by ${l.id}
      returning ${col(d.id)} as id, ${col(d.telegramChatId)} as chat, ${col(d.status)} as status),
    wake as (select pg_notify(${DELIVERIES_CHANNEL}, '') from (select 1 from ins limit 1) one)
    select n.id, n.status, ins.chat, ins.status as delivery
    from n left join ins on true, (select count(*) from wake) woke order by ins.id`)
  const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as {
    id: string
    status: string
    chat: string | number | null
    delivery: string | null
  }[]
  const [first] = rows
  if (!first) return undefined
  return {
    notification: { id: first.id, status: first.status },
    deliveries: rows.flatMap((r) =>
      r.chat === null
        ? []
        : [{ telegram_chat_id: Number(r.chat), status: r.delivery as DeliveryStatus }],
    ),
  }
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
