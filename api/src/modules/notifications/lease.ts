// Leasing due deliveries to the bot, with each user's preferences applied as a delivery comes due
// (so a change applies to what is already queued): a category switched off, or a mute for a
// `normal` notification, skips it; quiet hours hold a `normal` one until they end.
import {
  type Db,
  notificationDeliveries as d,
  notifications,
  telegramLinks,
  userPreferences,
} from "@nps/db"
import { and, asc, eq, isNotNull, isNull, lt, lte, notExists, or, sql } from "drizzle-orm"
import { alias } from "drizzle-orm/pg-core"
import type { Language } from "../preferences/model"
import { quietUntil } from "../preferences/quiet-hours"
import { chatLanguage } from "../preferences/service"
import type { BotMessage } from "./compose"
import { finishNotifications, isQueued, settleDue } from "./status"

const earlier = alias(d, "earlier")

/**
 * Queued deliveries that are each the oldest queued one of their chat (held ones aside): a chat's
 * next message cannot be leased until the one before it is settled, so however many bot
 * processes lease at once, one chat's messages go out in acceptance order. A delivery held until
 * send_at or the end of quiet hours does not hold up the chat's others.
 */
export const chatHead = (db: Db) =>
  and(
    isQueued(d.status),
    notExists(
      db
        .select({ one: sql`1` })
        .from(earlier)
        .where(
          and(
            isQueued(earlier.status),
            eq(earlier.telegramChatId, d.telegramChatId),
            lt(earlier.id, d.id),
            // Held ones (until send_at or the end of quiet hours) wait apart.
            isNull(earlier.holdUntil),
          ),
        ),
    ),
  )

export interface LeaseOptions {
  max: number
  leaseMs: number
}

type Candidate = Awaited<ReturnType<typeof pickDue>>[number]
type Verdict = { kind: "lease" } | { kind: "skip" } | { kind: "hold"; until: Date }

/** Due chat heads, locked (rows another lease holds are skipped, not waited for). */
function pickDue(tx: Db, now: Date, limit: number) {
  return tx
    .select({
      id: d.id,
      notificationId: d.notificationId,
      chatId: d.telegramChatId,
      partsSent: d.partsSent,
      language: d.language,
      category: notifications.category,
      priority: notifications.priority,
      languageCode: telegramLinks.languageCode,
      prefs: userPreferences,
      // The texts come with the lease's one locking select: no second round trip for them.
      text: notifications.text,
      messages: notifications.messages,
    })
    .from(d)
    .innerJoin(notifications, eq(notifications.id, d.notificationId))
    .leftJoin(telegramLinks, eq(telegramLinks.telegramChatId, d.telegramChatId))
    .leftJoin(userPreferences, eq(userPreferences.userId, notifications.userId))
    .where(
      and(
        chatHead(tx),
        lte(d.availableAt, now),
        isNull(d.holdUntil), // released by settleDue once due
        // A chat whose head is leased waits until that lease is settled or expires.
        or(isNull(d.leasedUntil), lte(d.leasedUntil, now)),
      ),
    )
    .orderBy(asc(d.id))
    .limit(limit)
    .for("update", { of: d, skipLocked: true })
}

/** What the user's preferences say about one due delivery. */
function verdict(c: Candidate, now: Date): Verdict {
  const p = c.prefs
  if (p?.categories[c.category] === false) return { kind: "skip" }
  if (c.priority === "high" || !p) return { kind: "lease" }
  if (p.mutedUntil && p.mutedUntil > now) return { kind: "skip" }
  const until =
    p.quietStart && p.quietEnd
      ? quietUntil(now, p.timeZone, { start: p.quietStart, end: p.quietEnd })
      : undefined
  return until ? { kind: "hold", until } : { kind: "lease" }
}

/** The sendMessage parameters still to send, in the language the chat reads (when given). */
function pickMessages(c: Candidate): { language: Language; messages: BotMessage[] } {
  const wanted =
    (c.language as Language | null) ?? chatLanguage(c.prefs?.language ?? null, c.languageCode)
  const all = c.messages as Record<string, unknown[]> | null
  const language: Language = all?.[wanted] ? wanted : "en"
  const parts = (all?.[language] as BotMessage[] | undefined) ?? [{ text: c.text }]
  return { language, messages: parts.slice(Math.min(c.partsSent, parts.length - 1)) }
}

/**
 * Every verdict of a round in one statement, whatever the batch size: leased ones get the lease
 * (and their language, fixed at the first lease), skipped ones end `skipped`, held ones get their
 * hold_until. Answers each leased delivery's attempts.
 */
async function apply(
  tx: Db,
  rows: { id: number; kind: Verdict["kind"]; until?: string; language?: Language }[],
  lease: { leaseId: string; leasedUntil: Date },
): Promise<Map<number, number>> {
  if (!rows.length) return new Map()
  const is = (kind: string) => sql`v.kind = ${kind}`
  const updated = await tx
    .update(d)
    .set({
      leaseId: sql`case when ${is("lease")} then ${lease.leaseId} else ${d.leaseId} end`,
      leasedUntil: sql`case when ${is("lease")} then ${lease.leasedUntil.toISOString()}::timestamptz else ${d.leasedUntil} end`,
      attempts: sql`case when ${is("lease")} then ${d.attempts} + 1 else ${d.attempts} end`,
      language: sql`case when ${is("lease")} then v.language else ${d.language} end`,
      status: sql`case when ${is("skip")} then 'skipped' else ${d.status} end`,
      error: sql`case when ${is("skip")} then 'muted' else ${d.error} end`,
      holdUntil: sql`case when ${is("hold")} then v.until::timestamptz else ${d.holdUntil} end`,
    })
    .from(
      sql`jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as v(id bigint, kind text, until text, language text)`,
    )
    .where(sql`${d.id} = v.id`)
    .returning({ id: d.id, attempts: d.attempts, leased: sql<boolean>`${is("lease")}` })
  return new Map(updated.filter((u) => u.leased).map((u) => [u.id, u.attempts]))
}

type Leased = { c: Candidate; language: Language; messages: BotMessage[]; attempts: number }

/**
 * Due chat heads the user's preferences let through, at most `max`, leased; skipped ones are
 * marked (their notifications added to `touched`), held ones get their hold_until. A skipped or
 * held head lets the chat's next one through, so it looks again, a few times at most: two
 * statements a round (the locking select, texts included, and one update), one round usually.
 */
async function choose(
  tx: Db,
  now: Date,
  max: number,
  touched: string[],
  lease: { leaseId: string; leasedUntil: Date },
): Promise<Leased[]> {
  const chosen: Leased[] = []
  for (let round = 0; round < 3 && chosen.length < max; round++) {
    const picked = await pickDue(tx, now, max - chosen.length)
    const rows: Parameters<typeof apply>[1] = []
    const leasing: Omit<Leased, "attempts">[] = []
    for (const c of picked) {
      const v = verdict(c, now)
      if (v.kind === "lease") {
        const out = { c, ...pickMessages(c) }
        leasing.push(out)
        rows.push({ id: c.id, kind: "lease", language: out.language })
      } else if (v.kind === "skip") {
        rows.push({ id: c.id, kind: "skip" })
        touched.push(c.notificationId)
      } else rows.push({ id: c.id, kind: "hold", until: v.until.toISOString() })
    }
    const attempts = await apply(tx, rows, lease)
    for (const o of leasing) chosen.push({ ...o, attempts: attempts.get(o.c.id) ?? 1 })
    if (leasing.length === picked.length) break
  }
  return chosen.sort((a, b) => a.c.id - b.c.id)
}

export async function leaseDeliveries(db: Db, { max, leaseMs }: LeaseOptions, now: Date) {
  const leaseId = crypto.randomUUID()
  const leasedUntil = new Date(now.getTime() + leaseMs)
  const leased = await db.transaction(async (txn) => {
    const tx = txn as unknown as Db
    const touched = await settleDue(tx, now)
    const chosen = await choose(tx, now, max, touched, { leaseId, leasedUntil })
    // Scheduled ones whose time came are queued now; skipped and expired ones may be final.
    await finishNotifications(tx, touched, now)
    return chosen
  })
  return {
    lease_id: leaseId,
    lease_expires_at: leasedUntil.toISOString(),
    lease_seconds: Math.round(leaseMs / 1000),
    deliveries: leased.map(({ c, language, messages, attempts }) => ({
      id: c.id,
      notification_id: c.notificationId,
      telegram_chat_id: c.chatId,
      text: messages[0]?.text ?? "",
      attempts,
      messages,
      language,
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
