import { type Db, oracleProfiles, readings, telegramLinks, users } from "@nps/db"
import { and, asc, eq, isNull, lt, or, sql } from "drizzle-orm"
import type { Principal } from "../../auth"
import { ApiError, forbidden, notFound } from "../../errors"
import { preparedPerDb } from "../../prepared"
import { findActiveKey, markKeyUsed } from "../keys/service"

export const notLinked = () => notFound("not_linked", "This chat is not linked to an NPS account")

export interface LinkInput {
  chatId: number
  telegramUsername: string | null | undefined
  apiKey: string
}

/** Validates the raw key and links the chat to its owner in one atomic upsert. */
export async function linkChat(db: Db, input: LinkInput, now: Date) {
  const owner = await findActiveKey(db, input.apiKey, now)
  if (!owner) throw new ApiError(401, "invalid_api_key", "Invalid API key")
  if (!owner.userActive) throw notFound("user_inactive", "User not found or inactive")

  // Relinking a chat to another account is allowed (seed scenario 5): the chat id decides.
  const [link] = await db
    .insert(telegramLinks)
    .values({
      telegramChatId: input.chatId,
      telegramUsername: input.telegramUsername ?? null,
      userId: owner.userId,
      linkedAt: now,
      lastActive: now,
      isActive: true,
    })
    .onConflictDoUpdate({
      target: telegramLinks.telegramChatId,
      set: {
        telegramUsername: sql`excluded.telegram_username`,
        userId: sql`excluded.user_id`,
        linkedAt: sql`excluded.linked_at`,
        lastActive: sql`excluded.last_active`,
        isActive: true,
      },
    })
    .returning()
  if (!link) throw new Error("upsert returned no row")
  await markKeyUsed(db, owner, now)
  return {
    telegram_chat_id: link.telegramChatId,
    telegram_username: link.telegramUsername,
    user_id: owner.userId,
    username: owner.username,
    role: owner.role,
    linked_at: link.linkedAt.toISOString(),
    is_active: link.isActive,
  }
}

// last_active says when the chat was last used, to the minute: stored only when the value held is
// older than this, so a chat's calls write (and wait for a durable commit) once a minute at most.
const LAST_ACTIVE_RESOLUTION = sql.raw("interval '1 minute'")

/** The chat's active link: the user it belongs to. */
const activeLink = (db: Db) =>
  db.$with("link").as(
    db
      .select({ userId: telegramLinks.userId })
      .from(telegramLinks)
      .where(
        and(
          eq(telegramLinks.telegramChatId, sql.placeholder("chatId")),
          eq(telegramLinks.isActive, true),
        ),
      ),
  )

/**
 * Moves the link's last_active to now when it is stale. Unreferenced by the query, it still runs
 * (Postgres executes every data-modifying WITH); matching no row, it commits nothing.
 */
const touchLink = (db: Db) => {
  const now = sql`${sql.placeholder("now")}::timestamptz`
  return db.$with("touched").as(
    db
      .update(telegramLinks)
      .set({ lastActive: now })
      .where(
        and(
          eq(telegramLinks.telegramChatId, sql.placeholder("chatId")),
          eq(telegramLinks.isActive, true),
          or(
            isNull(telegramLinks.lastActive),
            lt(telegramLinks.lastActive, sql`${now} - ${LAST_ACTIVE_RESOLUTION}`),
          ),
        ),
      )
      .returning({ userId: telegramLinks.userId }),
  )
}

const countOwnedBy = (userIdColumn: typeof readings.userId | typeof oracleProfiles.userId) =>
  sql<number>`(select count(*) from ${userIdColumn.table} where ${userIdColumn} = ${users.id})`.mapWith(
    Number,
  )

// One round trip per bot call: the link, its user, the counts and (at most once a minute) the
// last_active write.
const statusQuery = preparedPerDb((db) => {
  const link = activeLink(db)
  return db
    .with(link, touchLink(db))
    .select({
      username: users.username,
      role: users.role,
      profiles: countOwnedBy(oracleProfiles.userId),
      readings: countOwnedBy(readings.userId),
    })
    .from(link)
    .innerJoin(users, and(eq(users.id, link.userId), eq(users.isActive, true)))
    .prepare("chat_status")
})

// Left join: no rows means not linked; one row of nulls means linked without profiles.
const profilesQuery = preparedPerDb((db) => {
  const link = activeLink(db)
  return db
    .with(link, touchLink(db))
    .select({
      id: oracleProfiles.id,
      name: oracleProfiles.name,
      birthday: oracleProfiles.birthday,
      createdAt: oracleProfiles.createdAt,
    })
    .from(link)
    .innerJoin(users, and(eq(users.id, link.userId), eq(users.isActive, true)))
    .leftJoin(oracleProfiles, eq(oracleProfiles.userId, link.userId))
    .orderBy(asc(oracleProfiles.createdAt), asc(oracleProfiles.id))
    .prepare("chat_profiles")
})

export async function chatStatus(db: Db, chatId: number, now: Date) {
  const [row] = await statusQuery(db).execute({ chatId, now: now.toISOString() })
  if (!row) return { linked: false as const }
  return {
    linked: true as const,
    username: row.username,
    role: row.role,
    oracle_profile_count: row.profiles,
    reading_count: row.readings,
  }
}

export async function chatProfiles(db: Db, chatId: number, now: Date) {
  const rows = await profilesQuery(db).execute({ chatId, now: now.toISOString() })
  if (rows.length === 0) throw notLinked()
  return rows.flatMap((p) =>
    p.id === null || p.name === null || p.birthday === null || p.createdAt === null
      ? []
      : [{ id: p.id, name: p.name, birthday: p.birthday, created_at: p.createdAt.toISOString() }],
  )
}

/** The bot (service scope) may unlink any chat; a user only a chat linked to themselves. */
export async function unlinkChat(db: Db, chatId: number, principal: Principal) {
  const isService = principal.scopes.includes("telegram:service")
  const [link] = await db
    .select({ userId: telegramLinks.userId })
    .from(telegramLinks)
    .where(and(eq(telegramLinks.telegramChatId, chatId), eq(telegramLinks.isActive, true)))
    .limit(1)
  if (!link) throw notLinked()
  if (!isService && link.userId !== principal.userId)
    throw forbidden("This chat is linked to another account")
  const [row] = await db
    .update(telegramLinks)
    .set({ isActive: false })
    .where(and(eq(telegramLinks.telegramChatId, chatId), eq(telegramLinks.isActive, true)))
    .returning({ chatId: telegramLinks.telegramChatId })
  if (!row) throw notLinked() // a concurrent unlink got there first
  return { telegram_chat_id: row.chatId, is_active: false as const }
}
