import { type Db, oracleProfiles } from "@nps/db"
import { asc, eq } from "drizzle-orm"

const toProfile = (p: { id: number; name: string; birthday: string; createdAt: Date }) => ({
  id: p.id,
  name: p.name,
  birthday: p.birthday,
  created_at: p.createdAt.toISOString(),
})

export async function listProfiles(db: Db, userId: string) {
  const rows = await db
    .select()
    .from(oracleProfiles)
    .where(eq(oracleProfiles.userId, userId))
    .orderBy(asc(oracleProfiles.createdAt), asc(oracleProfiles.id))
  return rows.map(toProfile)
}

export async function createProfile(
  db: Db,
  userId: string,
  input: { name: string; birthday: string },
) {
  const [row] = await db
    .insert(oracleProfiles)
    .values({ userId, ...input })
    .returning()
  if (!row) throw new Error("insert returned no row")
  return toProfile(row)
}
