import { apiKeys, type Db, users } from "@nps/db"
import { and, eq, ne } from "drizzle-orm"
import { hashApiKey, hashPassword, keyPrefix } from "./credentials"

export const SERVICE_USERNAME = "telegram-bot"
export const SERVICE_KEY_NAME = "telegram-bot service key"

/**
 * Makes sure `key` is the bot's one active service key. Idempotent, safe when several API
 * processes start at once, and a changed key replaces (revokes) the previous one.
 */
export async function ensureServiceKey(db: Db, key: string): Promise<void> {
  return db.transaction(async (tx) => {
    await tx
      .insert(users)
      // Nobody knows this password: the account exists only to own the service key.
      .values({
        username: SERVICE_USERNAME,
        passwordHash: await hashPassword(crypto.randomUUID()),
        role: "user",
      })
      .onConflictDoNothing({ target: users.username })
    const [owner] = await tx
      .select({ id: users.id })
      .from(users)
      .where(eq(users.username, SERVICE_USERNAME))
    if (!owner) throw new Error("service user missing after insert")
    const keyHash = hashApiKey(key)
    await tx
      .insert(apiKeys)
      .values({
        userId: owner.id,
        name: SERVICE_KEY_NAME,
        keyHash,
        prefix: keyPrefix(key),
        scopes: ["telegram:service"],
      })
      .onConflictDoUpdate({
        target: apiKeys.keyHash,
        set: { userId: owner.id, isActive: true, scopes: ["telegram:service"], expiresAt: null },
      })
    await tx
      .update(apiKeys)
      .set({ isActive: false })
      .where(
        and(
          eq(apiKeys.userId, owner.id),
          eq(apiKeys.name, SERVICE_KEY_NAME),
          ne(apiKeys.keyHash, keyHash),
        ),
      )
  })
}
