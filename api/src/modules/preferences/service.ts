// Each user's preferences: read and changed by the app (the user's own credentials) and by the
// bot (for the user linked to a chat); applied to deliveries when they come due (lease.ts).
import { type Db, telegramLinks, userPreferences } from "@nps/db"
import { and, eq, sql } from "drizzle-orm"
import { ApiError } from "../../errors"
import { parseInstant } from "../../instant"
import { notLinked } from "../telegram/service"
import { DEFAULT_CATEGORY, LANGUAGES, type Language } from "./model"
import { canonicalZone } from "./quiet-hours"

type Row = typeof userPreferences.$inferSelect

export interface PreferencesView {
  muted_until: string | null
  time_zone: string
  quiet_hours: { start: string; end: string } | null
  categories: Record<string, boolean>
  language: Language | null
}

export interface PreferencesChange {
  muted_until?: string | null | undefined
  time_zone?: string | null | undefined
  quiet_hours?: { start: string; end: string } | null | undefined
  categories?: Record<string, boolean> | null | undefined
  language?: Language | null | undefined
}

/** The most categories one user's preferences list (a sender inventing one per message). */
export const MAX_CATEGORIES = 100

function toView(row: Row | undefined): PreferencesView {
  const stored = row?.categories ?? {}
  const names = [...new Set([DEFAULT_CATEGORY, ...Object.keys(stored).sort()])]
  return {
    muted_until: row?.mutedUntil ? row.mutedUntil.toISOString() : null,
    time_zone: row?.timeZone ?? "UTC",
    quiet_hours:
      row?.quietStart && row.quietEnd ? { start: row.quietStart, end: row.quietEnd } : null,
    categories: Object.fromEntries(names.map((name) => [name, stored[name] ?? true])),
    language: (row?.language as Language | null | undefined) ?? null,
  }
}

async function rowOf(db: Db, userId: string) {
  const [row] = await db.select().from(userPreferences).where(eq(userPreferences.userId, userId))
  return row
}

export const getPreferences = async (db: Db, userId: string) => toView(await rowOf(db, userId))

const invalid = (message: string) => new ApiError(422, "validation_error", message)

/** The columns a change sets, checked; fields absent stay as they are. */
function columnsOf(change: PreferencesChange) {
  const set: Partial<Omit<Row, "userId" | "categories">> = {}
  if (change.muted_until !== undefined)
    set.mutedUntil =
      change.muted_until === null ? null : parseInstant("muted_until", change.muted_until)
  if (change.time_zone !== undefined) {
    const zone = change.time_zone === null ? "UTC" : canonicalZone(change.time_zone)
    if (!zone)
      throw new ApiError(
        422,
        "invalid_time_zone",
        "Unknown time zone: give an IANA name such as Europe/Madrid or UTC",
      )
    set.timeZone = zone
  }
  if (change.quiet_hours !== undefined) {
    const quiet = change.quiet_hours
    if (quiet && quiet.start === quiet.end)
      throw invalid("Invalid quiet_hours: start and end must differ")
    set.quietStart = quiet?.start ?? null
    set.quietEnd = quiet?.end ?? null
  }
  if (change.language !== undefined) set.language = change.language
  return set
}

/**
 * Applies a change in one statement (an upsert: no row until a user changes something). The
 * categories given are merged into those stored; null turns every stored one back on.
 */
export async function updatePreferences(
  db: Db,
  userId: string,
  change: PreferencesChange,
  now: Date,
) {
  const set = columnsOf(change)
  const given = change.categories
  const categories =
    given === undefined
      ? undefined
      : given === null
        ? sql`(select coalesce(jsonb_object_agg(key, true), '{}'::jsonb) from jsonb_each(${userPreferences.categories}))`
        : sql`${userPreferences.categories} || ${JSON.stringify(given)}::jsonb`
  return db.transaction(async (tx) => {
    const [row] = await tx
      .insert(userPreferences)
      .values({ userId, ...set, categories: given ?? {}, updatedAt: now })
      .onConflictDoUpdate({
        target: userPreferences.userId,
        set: { ...set, ...(categories && { categories }), updatedAt: now },
      })
      .returning()
    // Thrown inside the transaction: nothing of the change is kept.
    if (row && Object.keys(row.categories).length > MAX_CATEGORIES)
      throw invalid(`Invalid categories: at most ${MAX_CATEGORIES} per user`)
    return toView(row)
  })
}

/** The user the chat is linked to (an active link, blocked or not), or 404 not_linked. */
export async function chatUser(db: Db, chatId: number): Promise<string> {
  const [link] = await db
    .select({ userId: telegramLinks.userId })
    .from(telegramLinks)
    .where(and(eq(telegramLinks.telegramChatId, chatId), eq(telegramLinks.isActive, true)))
  if (!link) throw notLinked()
  return link.userId
}

/** Stores the language_code the bot last saw in the chat; answers the user's language setting. */
export async function setChatLanguageCode(db: Db, chatId: number, code: string) {
  const [link] = await db
    .update(telegramLinks)
    .set({ languageCode: code })
    .where(and(eq(telegramLinks.telegramChatId, chatId), eq(telegramLinks.isActive, true)))
    .returning({ userId: telegramLinks.userId })
  if (!link) throw notLinked()
  const row = await rowOf(db, link.userId)
  return { language: (row?.language as Language | null | undefined) ?? null }
}

/** A chat's language: the user's setting, else its Telegram language_code if we have it, else en. */
export function chatLanguage(preference: string | null, languageCode: string | null): Language {
  if (preference && (LANGUAGES as readonly string[]).includes(preference))
    return preference as Language
  const code = languageCode?.slice(0, 2).toLowerCase()
  return code && (LANGUAGES as readonly string[]).includes(code) ? (code as Language) : "en"
}
