import { apiKeys, type Db, users } from "@nps/db"
import { and, desc, eq, sql } from "drizzle-orm"
import { generateApiKey, hashApiKey, keyPrefix, type Scope } from "../../credentials"
import { notFound } from "../../errors"
import { preparedPerDb } from "../../prepared"

export const DEFAULT_SCOPES: Scope[] = ["oracle:read"]
const DAY_MS = 86_400_000

export interface NewKey {
  userId: string
  name: string
  scopes?: Scope[] | undefined
  expiresDays?: number | undefined
}

/** Creates a key and returns the raw value — the only moment it exists outside the caller. */
export async function createKey(db: Db, input: NewKey, now = new Date()) {
  const key = generateApiKey()
  const [row] = await db
    .insert(apiKeys)
    .values({
      userId: input.userId,
      name: input.name,
      keyHash: hashApiKey(key),
      prefix: keyPrefix(key),
      scopes: input.scopes ?? DEFAULT_SCOPES,
      expiresAt: input.expiresDays ? new Date(now.getTime() + input.expiresDays * DAY_MS) : null,
    })
    .returning({ id: apiKeys.id, prefix: apiKeys.prefix, scopes: apiKeys.scopes })
  if (!row) throw new Error("insert returned no row")
  return { id: row.id, key, prefix: row.prefix, scopes: row.scopes }
}

const iso = (d: Date | null) => (d ? d.toISOString() : null)

export async function listKeys(db: Db, userId: string) {
  const rows = await db
    .select()
    .from(apiKeys)
    .where(eq(apiKeys.userId, userId))
    .orderBy(desc(apiKeys.createdAt))
  return rows.map((k) => ({
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    scopes: k.scopes,
    is_active: k.isActive,
    created_at: k.createdAt.toISOString(),
    last_used_at: iso(k.lastUsedAt),
    expires_at: iso(k.expiresAt),
  }))
}

/** Revokes a key; with `userId`, only that user's own key (someone else's reads as not found). */
export async function revokeKey(db: Db, id: string, userId?: string) {
  const [row] = await db
    .update(apiKeys)
    .set({ isActive: false })
    .where(and(eq(apiKeys.id, id), userId ? eq(apiKeys.userId, userId) : undefined))
    .returning({ id: apiKeys.id })
  if (!row) throw notFound("key_not_found", "No such API key")
  return { id: row.id, is_active: false as const }
}

// Prepared: every call the bot makes authenticates with its key through this.
const keyWithOwner = preparedPerDb((db) =>
  db
    .select({
      keyId: apiKeys.id,
      scopes: apiKeys.scopes,
      expiresAt: apiKeys.expiresAt,
      lastUsedAt: apiKeys.lastUsedAt,
      userId: users.id,
      username: users.username,
      role: users.role,
      userActive: users.isActive,
    })
    .from(apiKeys)
    .innerJoin(users, eq(users.id, apiKeys.userId))
    .where(and(eq(apiKeys.keyHash, sql.placeholder("hash")), eq(apiKeys.isActive, true)))
    .limit(1)
    .prepare("key_with_owner"),
)

export type KeyWithOwner = NonNullable<Awaited<ReturnType<typeof findActiveKey>>>

/** The unrevoked, unexpired key with this raw value and its owner (who may be inactive). */
export function findActiveKey(db: Db, rawKey: string, now: Date) {
  return findActiveKeyByHash(db, hashApiKey(rawKey), now)
}

async function findActiveKeyByHash(db: Db, hash: string, now: Date) {
  const [row] = await keyWithOwner(db).execute({ hash })
  return row && (!row.expiresAt || row.expiresAt > now) ? row : undefined
}

// last_used_at is written at most this often per key, keeping the hot path read-only.
const LAST_USED_RESOLUTION_MS = 60_000

export async function markKeyUsed(db: Db, key: KeyWithOwner, now: Date) {
  if (key.lastUsedAt && now.getTime() - key.lastUsedAt.getTime() <= LAST_USED_RESOLUTION_MS) return
  await db.update(apiKeys).set({ lastUsedAt: now }).where(eq(apiKeys.id, key.keyId))
}

/**
 * How long a verified key is trusted without asking the database again. The bot sends the same
 * key with every call; re-reading it each time doubled the round trips of its hottest endpoint.
 * A key revoked elsewhere (the admin CLI, another replica, a rotated service key) or an owner
 * deactivated stops working within this bound; revoked through this process, at once; an expiry
 * is honoured to the millisecond.
 */
export const KEY_TRUST_MS = 5_000
const MAX_TRUSTED_KEYS = 10_000

export interface KeyVerifier {
  /** The active key with this raw value whose owner is active, or undefined. */
  verify(rawKey: string, now: Date): Promise<KeyWithOwner | undefined>
  /** Stops trusting a key at once (it was just revoked). */
  forget(keyId: string): void
}

export function createKeyVerifier(db: Db): KeyVerifier {
  // By key hash. Only valid keys get in, so the map holds at most the keys in use.
  const trusted = new Map<string, { key: KeyWithOwner; until: number }>()
  // One database lookup per key at a time: concurrent requests share it.
  const lookups = new Map<string, Promise<KeyWithOwner | undefined>>()
  // Bumped by forget(): what a lookup begun before a revocation read is not trusted afterwards.
  let generation = 0

  const lookUp = async (hash: string, now: Date) => {
    const begun = generation
    const key = await findActiveKeyByHash(db, hash, now)
    if (!key?.userActive) return undefined
    await markKeyUsed(db, key, now)
    if (begun !== generation) return key
    const t = now.getTime()
    if (trusted.size >= MAX_TRUSTED_KEYS) trusted.clear()
    trusted.set(hash, {
      key,
      until: Math.min(t + KEY_TRUST_MS, key.expiresAt?.getTime() ?? t + KEY_TRUST_MS),
    })
    return key
  }

  return {
    verify(rawKey, now) {
      const hash = hashApiKey(rawKey)
      const hit = trusted.get(hash)
      if (hit && now.getTime() < hit.until) return Promise.resolve(hit.key)
      trusted.delete(hash)
      const pending = lookups.get(hash)
      if (pending) return pending
      const lookup: Promise<KeyWithOwner | undefined> = lookUp(hash, now).finally(() => {
        if (lookups.get(hash) === lookup) lookups.delete(hash)
      })
      lookups.set(hash, lookup)
      return lookup
    },
    forget(keyId) {
      generation++
      lookups.clear()
      for (const [hash, entry] of trusted) if (entry.key.keyId === keyId) trusted.delete(hash)
    },
  }
}
