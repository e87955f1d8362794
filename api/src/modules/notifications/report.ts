// Settling the bot's reports: one statement per batch, whatever its size (a data-modifying CTE
// over the results as one JSON parameter), then the one finishNotifications of status.ts. A
// statement or two per result capped a 1,000-a-second paid broadcast at a few hundred.
import { type Db, notificationDeliveries as d, telegramLinks } from "@nps/db"
import { sql } from "drizzle-orm"
import { ApiError } from "../../errors"
import { DELIVERIES_CHANNEL, type DeliveryError } from "./service"
import { finishNotifications } from "./status"

export interface DeliveryResult {
  id: number
  leaseId: string
  outcome: "sent" | "retry" | "failed"
  retryAfterSeconds?: number | undefined
  /** retry or failed: how many of the leased messages Telegram accepted first. */
  partsSent?: number | undefined
  error?: DeliveryError | undefined
  chatId?: number | undefined
}

const rowsOf = <T>(result: unknown): T[] =>
  (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[]

/**
 * The whole batch in one statement: `owned` is the results whose lease is still current (the
 * others are stale), locked; `settled` records each; `moved` follows a chat that became a
 * supergroup; `chat_failed` fails the other queued deliveries of an unreachable chat; `blocked`
 * marks the chat; the NOTIFY wakes leases in other replicas at commit. Every sub-statement sees
 * the snapshot from before it, so each row is updated by one of them only: the chat-wide ones
 * leave the reported deliveries alone (a chat has one leased at a time anyway).
 */
const settleStatement = (results: DeliveryResult[], now: Date) => {
  const json = JSON.stringify(
    results.map((r) => ({
      id: r.id,
      lease_id: r.leaseId,
      outcome: r.outcome,
      delay_ms: Math.round((r.retryAfterSeconds ?? 0) * 1000),
      parts: r.partsSent ?? 0,
      error: r.error ?? null,
      chat_id: r.chatId ?? null,
    })),
  )
  const at = sql`${now.toISOString()}::timestamptz`
  const links = telegramLinks
  return sql`
    with r as (
      select distinct on (id) * from jsonb_to_recordset(${json}::jsonb) as r(id bigint,
        lease_id text, outcome text, delay_ms bigint, parts integer, error text, chat_id bigint)
      order by id
    ), owned as (
      select ${d.id} as id, ${d.telegramChatId} as old_chat, ${d.notificationId} as notification_id,
        r.outcome, r.delay_ms, r.parts, r.error, coalesce(r.chat_id, ${d.telegramChatId}) as new_chat
      from ${d} join r on r.id = ${d.id} and r.lease_id = ${d.leaseId}
      where ${d.status} = 'queued'
      order by ${d.id}
      for update of ${d}
    ), settled as (
      update ${d} set lease_id = null, leased_until = null,
        status = case o.outcome when 'retry' then 'queued' else o.outcome end,
        sent_at = case when o.outcome = 'sent' then ${at} else ${d.sentAt} end,
        error = case o.outcome when 'sent' then null when 'failed' then o.error else ${d.error} end,
        available_at = case when o.outcome = 'retry'
          then ${at} + o.delay_ms * interval '1 millisecond' else ${d.availableAt} end,
        parts_sent = case when o.outcome = 'sent' then ${d.partsSent}
          else ${d.partsSent} + o.parts end,
        telegram_chat_id = case when o.outcome = 'sent' then o.new_chat
          else ${d.telegramChatId} end
      from owned o where ${d.id} = o.id
      returning ${d.notificationId} as notification_id
    ), moved as (
      update ${d} set telegram_chat_id = m.new_chat
      from (select distinct on (old_chat) old_chat, new_chat from owned
        where outcome = 'sent' and new_chat <> old_chat order by old_chat, id) m
      where ${d.telegramChatId} = m.old_chat and ${d.status} = 'queued'
        and ${d.id} not in (select id from owned)
    ), chat_failed as (
      update ${d} set status = 'failed', error = f.error, lease_id = null, leased_until = null
      from (select distinct on (old_chat) old_chat, error from owned
        where outcome = 'failed' and error in ('blocked', 'chat_not_found') order by old_chat, id) f
      where ${d.telegramChatId} = f.old_chat and ${d.status} = 'queued'
        and ${d.id} not in (select id from owned)
      returning ${d.notificationId} as notification_id
    ), blocked as (
      update ${links} set blocked_at = coalesce(${links.blockedAt}, ${at})
      where ${links.telegramChatId} in
        (select old_chat from owned where outcome = 'failed' and error = 'blocked')
    )
    select (select count(*) from owned)::int as applied,
      -- Text, not an array: PGlite hands a varchar[] back unparsed.
      array_to_string(array(select notification_id from settled
        union select notification_id from chat_failed), ',') as touched,
      (select count(*) from (select pg_notify(${DELIVERIES_CHANNEL}, '') from owned limit 1) n)
        as notified`
}

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
    const [row] = rowsOf<{ applied: number; touched: string }>(
      await tx.execute(settleStatement(results, now)),
    )
    const applied = Number(row?.applied ?? 0)
    await finishNotifications(tx, row?.touched ? row.touched.split(",") : [], now)
    return { applied, stale: results.length - applied }
  })
}
