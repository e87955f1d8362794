import { type Db, users } from "@nps/db"
import { eq } from "drizzle-orm"
import type { Deps } from "../../context"
import { hashPassword, JWT_TTL_SECONDS, verifyPassword } from "../../credentials"
import { ApiError, unauthorized } from "../../errors"

export type Role = "user" | "admin"

export interface UserSummary {
  id: string
  username: string
  role: string
}

// Verified against when the username is unknown, so both failures take the same time.
const decoyHash = hashPassword(crypto.randomUUID())

export async function createUser(
  db: Db,
  input: { username: string; password: string; role?: Role },
): Promise<UserSummary> {
  const [user] = await db
    .insert(users)
    .values({
      username: input.username,
      passwordHash: await hashPassword(input.password),
      role: input.role ?? "user",
    })
    .onConflictDoNothing({ target: users.username })
    .returning({ id: users.id, username: users.username, role: users.role })
  if (!user) throw new ApiError(409, "username_taken", "That username is already taken")
  return user
}

export async function findUser(db: Db, username: string) {
  const [user] = await db.select().from(users).where(eq(users.username, username)).limit(1)
  return user
}

export async function deactivateUser(db: Db, username: string) {
  const [user] = await db
    .update(users)
    .set({ isActive: false })
    .where(eq(users.username, username))
    .returning({ id: users.id, isActive: users.isActive })
  if (!user) throw new ApiError(404, "user_not_found", "No user with that username")
  return user
}

export async function login({ db, jwt }: Deps, username: string, password: string) {
  const user = await findUser(db, username)
  const ok = await verifyPassword(password, user?.passwordHash ?? (await decoyHash))
  if (!user || !ok || !user.isActive) throw unauthorized("Wrong username or password")
  return {
    access_token: await jwt.sign(user.id),
    token_type: "bearer" as const,
    expires_in: JWT_TTL_SECONDS,
  }
}
