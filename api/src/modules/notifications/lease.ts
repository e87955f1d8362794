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
import { and, asc, eq, inArray, isNull, lt, lte, notExists, or, sql } from "drizzle-orm"
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
function pickMessages(
  body: { text: string; messages: Record<string, unknown[]> | null } | undefined,
  c: Candidate,
): { language: Language; messages: BotMessage[] } {
  const wanted =
    (c.language as Language | null) ?? chatLanguage(c.prefs?.language ?? null, c.languageCode)
  const all = body?.messages
  const language: Language = all?.[wanted] ? wanted : "en"
  const parts = (all?.[language] as BotMessage[] | undefined) ?? [{ text: body?.text ?? "" }]
  return { language, messages: parts.slice(Math.min(c.partsSent, parts.length - 1)) }
}

/**
 * Due chat heads the user's preferences let through, at most `max`; skipped ones are marked (their
 * notifications added to `touched`), held ones get their hold_until. A skipped or held head lets
 * the chat's next one through, so it looks again, a few times at most.
 */
async function choose(tx: Db, now: Date, max: number, touched: string[]) {
  const chosen: Candidate[] = []
  for (let round = 0; round < 3 && chosen.length < max; round++) {
    const picked = await pickDue(tx, now, max - chosen.length)
    const skip: Candidate[] = []
    for (const c of picked) {
      const v = verdict(c, now)
      if (v.kind === "lease") chosen.push(c)
      else if (v.kind === "skip") skip.push(c)
      else await tx.update(d).set({ holdUntil: v.until }).where(eq(d.id, c.id))
    }
    if (skip.length) {
      const ids = skip.map((c) => c.id)
      await tx.update(d).set({ status: "skipped", error: "muted" }).where(inArray(d.id, ids))
      touched.push(...skip.map((c) => c.notificationId))
    }
    if (picked.every((c) => chosen.includes(c))) break
  }
  return chosen.sort((a, b) => a.id - b.id)
}

type Body = { id: string; text: string; messages: Record<string, unknown[]> | null }

async function bodiesOf(tx: Db, ids: string[]): Promise<Map<string, Body>> {
  if (!ids.length) return new Map()
  const rows = await tx
    .select({ id: notifications.id, text: notifications.text, messages: notifications.messages })
    .from(notifications)
    .where(inArray(notifications.id, ids))
  return new Map(rows.map((n) => [n.id, n]))
}

export async function leaseDeliveries(db: Db, { max, leaseMs }: LeaseOptions, now: Date) {
  const leaseId = crypto.randomUUID()
  const leasedUntil = new Date(now.getTime() + leaseMs)
  const leased = await db.transaction(async (txn) => {
    const tx = txn as unknown as Db
    const touched = await settleDue(tx, now)
    const chosen = await choose(tx, now, max, touched)
    const bodies = await bodiesOf(tx, [...new Set(chosen.map((c) => c.notificationId))])
    const out = chosen.map((c) => ({ c, ...pickMessages(bodies.get(c.notificationId), c) }))
    const attempts = new Map<number, number>()
    for (const language of new Set(out.map((o) => o.language))) {
      const ids = out.filter((o) => o.language === language).map((o) => o.c.id)
      const rows = await tx
        .update(d)
        .set({ leaseId, leasedUntil, attempts: sql`${d.attempts} + 1`, language })
        .where(inArray(d.id, ids))
        .returning({ id: d.id, attempts: d.attempts })
      for (const r of rows) attempts.set(r.id, r.attempts)
    }
    // Scheduled ones whose time came are queued now; skipped and expired ones may be final.
    await finishNotifications(tx, touched, now)
    return out.map((o) => ({ ...o, attempts: attempts.get(o.c.id) ?? 1 }))
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
