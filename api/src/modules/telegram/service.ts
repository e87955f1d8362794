import {
  type Db,
  oracleProfiles,
  readings,
  telegramLinks,
  telegramLinkTokens,
  users,
} from "@nps/db"
import { and, asc, eq, gt, inArray, isNotNull, isNull, lt, lte, or, sql } from "drizzle-orm"
import type { Principal } from "../../auth"
import { generateLinkToken, hashLinkToken } from "../../credentials"
import { ApiError, notFound } from "../../errors"
import { preparedPerDb } from "../../prepared"
import type { Sweep } from "../../sweeper"
import { findActiveKey, markKeyUsed } from "../keys/service"

export const notLinked = () => notFound("not_linked", "This chat is not linked to an NPS account")

export interface LinkInput {
  chatId: number
  telegramUsername: string | null | undefined
  apiKey: string
}

interface LinkOwner {
  userId: string
  username: string
  role: string
}

/**
 * Links the chat to the user in one atomic upsert by chat id. Relinking a chat to another account
 * is allowed (seed scenario 5): whoever links from the chat decides. The user is writing to the
 * bot from this chat right now, so it is not blocked.
 */
async function upsertLink(
  db: Db,
  { chatId, telegramUsername }: { chatId: number; telegramUsername: string | null | undefined },
  owner: LinkOwner,
  now: Date,
) {
  const [link] = await db
    .insert(telegramLinks)
    .values({
      telegramChatId: chatId,
      telegramUsername: telegramUsername ?? null,
      userId: owner.userId,
      linkedAt: now,
      lastActive: now,
      isActive: true,
      blockedAt: null,
    })
    .onConflictDoUpdate({
      target: telegramLinks.telegramChatId,
      set: {
        telegramUsername: sql`excluded.telegram_username`,
        userId: sql`excluded.user_id`,
        linkedAt: sql`excluded.linked_at`,
        lastActive: sql`excluded.last_active`,
        isActive: true,
        blockedAt: null,
      },
    })
    .returning()
  if (!link) throw new Error("upsert returned no row")
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

const userInactive = () => notFound("user_inactive", "User not found or inactive")

/** Validates the raw key and links the chat to its owner. */
export async function linkChat(db: Db, input: LinkInput, now: Date) {
  const owner = await findActiveKey(db, input.apiKey, now)
  if (!owner) throw new ApiError(401, "invalid_api_key", "Invalid API key")
  if (!owner.userActive) throw userInactive()
  const link = await upsertLink(db, input, owner, now)
  await markKeyUsed(db, owner, now)
  return link
}

export const LINK_TOKEN_TTL_MS = 10 * 60_000

/** A one-time deep-link token for the user; only its hash is stored. */
export async function createLinkToken(
  db: Db,
  { userId, botUsername }: { userId: string; botUsername: string | undefined },
  now: Date,
) {
  // Expired tokens are deleted in the background (linkTokenSweep), never here: a request that
  // swept the table fought every concurrent one for the same rows.
  const token = generateLinkToken()
  const expiresAt = new Date(now.getTime() + LINK_TOKEN_TTL_MS)
  await db
    .insert(telegramLinkTokens)
    .values({ tokenHash: hashLinkToken(token), userId, createdAt: now, expiresAt })
  return {
    token,
    url: botUsername ? `https://t.me/${botUsername}?start=${token}` : null,
    expires_at: expiresAt.toISOString(),
  }
}

/**
 * Expired tokens (used ones included) are useless: deleted in batches by the background sweeper,
 * found by the expires_at index. SKIP LOCKED leaves a row being redeemed right now alone.
 */
export const linkTokenSweep: Sweep = {
  name: "link_tokens",
  async step(db, batch, now) {
    const deleted = await db
      .delete(telegramLinkTokens)
      .where(
        inArray(
          telegramLinkTokens.tokenHash,
          db
            .select({ tokenHash: telegramLinkTokens.tokenHash })
            .from(telegramLinkTokens)
            .where(lte(telegramLinkTokens.expiresAt, now))
            .orderBy(asc(telegramLinkTokens.expiresAt))
            .limit(batch)
            .for("update", { skipLocked: true }),
        ),
      )
      .returning({ tokenHash: telegramLinkTokens.tokenHash })
    return deleted.length
  },
}

export interface RedeemInput {
  token: string
  chatId: number
  telegramUsername: string | null | undefined
}

/**
 * Spends the token and links the chat to its user, in one transaction. The conditional UPDATE
 * is what makes a token single-use: concurrent redeems queue on the row's lock, and every one
 * after the first finds used_at set and matches nothing.
 */
export function redeemLinkToken(db: Db, input: RedeemInput, now: Date) {
  return db.transaction(async (tx) => {
    const [spent] = await tx
      .update(telegramLinkTokens)
      .set({ usedAt: now, telegramChatId: input.chatId })
      .where(
        and(
          eq(telegramLinkTokens.tokenHash, hashLinkToken(input.token)),
          isNull(telegramLinkTokens.usedAt),
          gt(telegramLinkTokens.expiresAt, now),
        ),
      )
      .returning({ userId: telegramLinkTokens.userId })
    if (!spent)
      throw notFound("invalid_token", "This link token is unknown, expired or already used")
    const [owner] = await tx
      .select({ username: users.username, role: users.role, isActive: users.isActive })
      .from(users)
      .where(eq(users.id, spent.userId))
    // Throwing rolls the transaction back: the token stays unspent.
    if (!owner?.isActive) throw userInactive()
    return upsertLink(tx as unknown as Db, input, { userId: spent.userId, ...owner }, now)
  })
}

const iso = (d: Date | null) => (d ? d.toISOString() : null)

/** The user's chats, oldest link first, unlinked ones included. */
export async function listLinks(db: Db, userId: string) {
  const rows = await db
    .select()
    .from(telegramLinks)
    .where(eq(telegramLinks.userId, userId))
    .orderBy(asc(telegramLinks.linkedAt), asc(telegramLinks.id))
  return rows.map((l) => ({
    telegram_chat_id: l.telegramChatId,
    telegram_username: l.telegramUsername,
    linked_at: l.linkedAt.toISOString(),
    last_active: iso(l.lastActive),
    is_active: l.isActive,
    blocked: l.blockedAt !== null,
  }))
}

const chatState = {
  chatId: telegramLinks.telegramChatId,
  isActive: telegramLinks.isActive,
  blockedAt: telegramLinks.blockedAt,
}
const toChatState = (row: { chatId: number; isActive: boolean; blockedAt: Date | null }) => ({
  telegram_chat_id: row.chatId,
  is_active: row.isActive,
  blocked: row.blockedAt !== null,
})

/** Marks a chat blocked (keeping the first time it was seen so) or reachable again. */
export async function setChatBlocked(db: Db, chatId: number, blocked: boolean, now: Date) {
  const [row] = await db
    .update(telegramLinks)
    .set({
      blockedAt: blocked
        ? sql`coalesce(${telegramLinks.blockedAt}, ${now.toISOString()}::timestamptz)`
        : null,
    })
    .where(eq(telegramLinks.telegramChatId, chatId))
    .returning(chatState)
  if (!row) throw notLinked()
  return toChatState(row)
}

/**
 * A group became a supergroup: its link moves to the new chat id. Idempotent (Telegram reports a
 * migration in both chats, and a send may report it again). Should the new id already have a link
 * of its own, made there after the move, that one stands and the old id's link is retired.
 */
export async function migrateChat(db: Db, fromChatId: number, toChatId: number) {
  if (fromChatId !== toChatId) {
    const [moved] = await db
      .update(telegramLinks)
      .set({ telegramChatId: toChatId, blockedAt: null })
      .where(
        and(
          eq(telegramLinks.telegramChatId, fromChatId),
          sql`not exists (select 1 from ${telegramLinks} where ${telegramLinks.telegramChatId} = ${toChatId})`,
        ),
      )
      .returning(chatState)
    if (moved) return toChatState(moved)
  }
  const [existing] = await db
    .select(chatState)
    .from(telegramLinks)
    .where(eq(telegramLinks.telegramChatId, toChatId))
  if (!existing) throw notLinked()
  if (fromChatId !== toChatId)
    await db
      .update(telegramLinks)
      .set({ isActive: false })
      .where(eq(telegramLinks.telegramChatId, fromChatId))
  return toChatState(existing)
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
 * Moves the link's last_active to now when it is stale, and clears a blocked mark (the user just
 * wrote to the bot from this chat, so it is not blocked, whatever update we missed). Unreferenced
 * by the query, it still runs (Postgres executes every data-modifying WITH); matching no row, it
 * commits nothing.
 */
const touchLink = (db: Db) => {
  const now = sql`${sql.placeholder("now")}::timestamptz`
  return db.$with("touched").as(
    db
      .update(telegramLinks)
      .set({ lastActive: now, blockedAt: null })
      .where(
        and(
          eq(telegramLinks.telegramChatId, sql.placeholder("chatId")),
          eq(telegramLinks.isActive, true),
          or(
            isNull(telegramLinks.lastActive),
            lt(telegramLinks.lastActive, sql`${now} - ${LAST_ACTIVE_RESOLUTION}`),
            isNotNull(telegramLinks.blockedAt),
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

/**
 * The bot (service scope) may unlink any chat; a user only a chat linked to themselves. Someone
 * else's chat answers exactly as an unlinked one: whether a Telegram id uses NPS is nobody
 * else's business. One conditional UPDATE, so the two cases also take the same time.
 */
export async function unlinkChat(db: Db, chatId: number, principal: Principal) {
  const isService = principal.scopes.includes("telegram:service")
  const [row] = await db
    .update(telegramLinks)
    .set({ isActive: false })
    .where(
      and(
        eq(telegramLinks.telegramChatId, chatId),
        eq(telegramLinks.isActive, true),
        isService ? undefined : eq(telegramLinks.userId, principal.userId),
      ),
    )
    .returning({ chatId: telegramLinks.telegramChatId })
  if (!row) throw notLinked()
  return { telegram_chat_id: row.chatId, is_active: false as const }
}
