// Accepting many notifications at once (POST /notifications/batch), set-based: a few statements
// per batch whatever its size, each item answering exactly as the single POST would, in order —
// a key used before the batch or repeated inside it replays or conflicts as a retry would.
import { type Db, notificationDeliveries as d, notifications, telegramLinks, users } from "@nps/db"
import { and, eq, inArray, isNull, or, sql } from "drizzle-orm"
import type { ApiError } from "../../errors"
import type { Prepared } from "./prepare"
import {
  DELIVERIES_CHANNEL,
  keyReused,
  noteCategory,
  recipientInactive,
  recipientNotFound,
  requestHash,
} from "./service"
import { finishNotifications } from "./status"

/** An item that passed every check that needs no database. */
export interface ManyItem {
  username?: string | undefined
  userId?: string | undefined
  text: string
  idempotencyKey?: string | undefined
  prepared: Prepared
}

export type ManyResult = { status: 200 | 202; id: string } | { error: ApiError }

interface Known {
  id: string
  hash: string
}

type Recipient = { id: string; isActive: boolean }

/** The items' recipients, by id and by username, in one query. */
async function recipients(tx: Db, items: ManyItem[]) {
  const ids = [...new Set(items.flatMap((i) => (i.userId ? [i.userId] : [])))]
  const names = [...new Set(items.flatMap((i) => (i.username !== undefined ? [i.username] : [])))]
  const rows = await tx
    .select({ id: users.id, username: users.username, isActive: users.isActive })
    .from(users)
    .where(
      or(
        ids.length ? inArray(users.id, ids) : undefined,
        names.length ? inArray(users.username, names) : undefined,
      ),
    )
  const byId = new Map<string, Recipient>(rows.map((r) => [r.id, r]))
  const byName = new Map<string, Recipient>(rows.map((r) => [r.username, r]))
  return (item: ManyItem) => (item.userId ? byId.get(item.userId) : byName.get(item.username ?? ""))
}

/** The sender's notifications under these keys, as committed now. */
async function earlier(tx: Db, senderId: string | null, keys: string[]) {
  if (!keys.length) return new Map<string, Known>()
  const rows = await tx
    .select({
      id: notifications.id,
      key: notifications.idempotencyKey,
      hash: notifications.requestHash,
    })
    .from(notifications)
    .where(
      and(
        senderId ? eq(notifications.createdBy, senderId) : isNull(notifications.createdBy),
        inArray(notifications.idempotencyKey, keys),
      ),
    )
  return new Map(rows.map((r) => [r.key as string, { id: r.id, hash: r.hash }]))
}

/**
 * Accepts the items in one transaction: recipients and earlier keys read once, the new
 * notifications and all their deliveries inserted by one statement each, statuses computed by
 * one finishNotifications, and one NOTIFY. Answers per item, in order.
 */
export function createNotifications(
  db: Db,
  items: ManyItem[],
  sender: { userId: string } | null,
  now: Date,
): Promise<ManyResult[]> {
  return db.transaction(async (txn) => {
    const tx = txn as unknown as Db
    const senderId = sender?.userId ?? null
    const recipientOf = await recipients(tx, items)
    const keys = [...new Set(items.flatMap((i) => (i.idempotencyKey ? [i.idempotencyKey] : [])))]
    const known = await earlier(tx, senderId, keys)
    const results: ManyResult[] = []
    const fresh: { item: ManyItem; id: string; userId: string; hash: string }[] = []
    for (const item of items) {
      const user = recipientOf(item)
      if (!user) results.push({ error: recipientNotFound() })
      else if (!user.isActive) results.push({ error: recipientInactive() })
      else {
        const hash = requestHash(user.id, item.text, item.prepared.canonical)
        const key = item.idempotencyKey
        const previous = key ? known.get(key) : undefined
        if (previous)
          results.push(
            previous.hash === hash ? { status: 200, id: previous.id } : { error: keyReused() },
          )
        else {
          const id = crypto.randomUUID()
          if (key) known.set(key, { id, hash })
          fresh.push({ item, id, userId: user.id, hash })
          results.push({ status: 202, id })
        }
      }
    }
    if (!fresh.length) return results
    const inserted = await insertNotifications(tx, fresh, senderId, now)
    const lost = fresh.filter((f) => !inserted.has(f.id))
    // Another request committed one of these keys first: those items replay its notification.
    if (lost.length) await replayLost(tx, senderId, lost, results)
    const accepted = fresh.filter((f) => inserted.has(f.id))
    await insertDeliveries(tx, accepted, now)
    const categories = new Map(accepted.map((f) => [`${f.userId}\n${f.item.prepared.category}`, f]))
    for (const f of categories.values()) await noteCategory(tx, f.userId, f.item.prepared.category)
    await finishNotifications(
      tx,
      accepted.map((f) => f.id),
      now,
    )
    return results
  })
}

async function insertNotifications(
  tx: Db,
  fresh: { item: ManyItem; id: string; userId: string; hash: string }[],
  senderId: string | null,
  now: Date,
) {
  const rows = await tx
    .insert(notifications)
    .values(
      fresh.map(({ item, id, userId, hash }) => ({
        id,
        userId,
        text: item.text,
        messages: item.prepared.messages,
        category: item.prepared.category,
        priority: item.prepared.priority,
        sendAt: item.prepared.sendAt,
        expiresAt: item.prepared.expiresAt,
        status: "queued",
        idempotencyKey: item.idempotencyKey ?? null,
        requestHash: hash,
        createdBy: senderId,
        createdAt: now,
      })),
    )
    .onConflictDoNothing({ target: [notifications.createdBy, notifications.idempotencyKey] })
    .returning({ id: notifications.id })
  return new Set(rows.map((r) => r.id))
}

/** Items whose new notification lost its key to a concurrent request: as the single POST's race. */
async function replayLost(
  tx: Db,
  senderId: string | null,
  lost: { item: ManyItem; id: string; hash: string }[],
  results: ManyResult[],
) {
  const winners = await earlier(tx, senderId, [
    ...new Set(lost.map((f) => f.item.idempotencyKey as string)),
  ])
  const byLostId = new Map(lost.map((f) => [f.id, f]))
  for (const [i, result] of results.entries()) {
    if (!("id" in result)) continue
    const mine = byLostId.get(result.id)
    if (!mine) continue
    const winner = winners.get(mine.item.idempotencyKey as string)
    if (!winner) throw new Error("idempotency conflict without a row")
    // Each item that took or replayed the lost one carries its body: against the winner's now.
    results[i] = winner.hash === mine.hash ? { status: 200, id: winner.id } : { error: keyReused() }
  }
}

/**
 * Every accepted notification's deliveries, one per reachable chat, in item order then link (id)
 * order, so each chat's deliveries keep acceptance order; with one NOTIFY when any was inserted.
 */
async function insertDeliveries(
  tx: Db,
  accepted: { item: ManyItem; id: string; userId: string }[],
  now: Date,
) {
  if (!accepted.length) return
  const l = telegramLinks
  const col = (c: { name: string }) => sql.identifier(c.name)
  // One parameter for the whole set: a row of parameters per item would not scale.
  const set = JSON.stringify(
    accepted.map((f, ord) => ({
      ord,
      id: f.id,
      user_id: f.userId,
      hold: f.item.prepared.sendAt?.toISOString() ?? null,
      exp: f.item.prepared.expiresAt?.toISOString() ?? null,
    })),
  )
  await tx.execute(sql`
    with ins as (
      insert into ${d} (${col(d.notificationId)}, ${col(d.telegramChatId)}, ${col(d.availableAt)}, ${col(d.holdUntil)}, ${col(d.expiresAt)})
      select n.id, ${l.telegramChatId}, ${now.toISOString()}::timestamptz, n.hold, n.exp
      from jsonb_to_recordset(${set}::jsonb) as n(ord int, id text, user_id text, hold timestamptz, exp timestamptz)
      join ${l} on ${l.userId} = n.user_id and ${l.isActive} and ${l.blockedAt} is null
      order by n.ord, ${l.id}
      returning 1)
    select pg_notify(${DELIVERIES_CHANNEL}, '') from (select 1 from ins limit 1) one`)
}
