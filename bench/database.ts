// The benchmark's data set, in a throwaway database created in BENCH_DATABASE_URL and dropped at
// the end: 10,000 users, each with a linked chat (ids beyond ±2^31, both signs), 1–3 Oracle
// profiles and 0–6 readings; the bot's service key; and API keys for the link scenario.
import { apiKeys, createDb, migrate, oracleProfiles, readings, telegramLinks, users } from "@nps/db"
import { sql } from "drizzle-orm"
import postgres from "postgres"
import { ensureServiceKey } from "../api/src/bootstrap"
import { generateApiKey, hashApiKey, keyPrefix } from "../api/src/credentials"
import type { Cleanup } from "./cleanup"

export const USERS = 10_000
/** Users whose raw keys the link scenario sends in its bodies. */
const KEYED_USERS = 100
const BATCH = 2_000

/** Chat i: alternating sign, magnitudes from 2^31 + 1 up to ~4.5·10^15 (still exact in a double). */
export const chatId = (i: number) => (i % 2 === 0 ? 1 : -1) * (2 ** 31 + 1 + i * 450_000_000_001)

export interface BenchDatabase {
  url: string
  serviceKey: string
  /** A raw key with telegram:notify, for the accept scenario. */
  notifyKey: string
  /** Raw keys of users who may link chats. */
  userKeys: string[]
  /** Linked chat ids, in seed order. */
  chats: number[]
  /** Pids of the Postgres backends serving this database now. */
  backends(): Promise<number[]>
  drop(): Promise<void>
}

/**
 * An empty database created in `adminUrl`'s server, and how to drop it (once; safe to repeat).
 * The drop is handed to `cleanup` before the database is created: one connection runs both in
 * order, so a signal arriving mid-CREATE still drops it.
 */
export async function throwawayDatabase(adminUrl: string, prefix: string, cleanup: Cleanup) {
  const name = `${prefix}_${Date.now()}_${process.pid}`
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
  let dropped = false
  const drop = async () => {
    if (dropped) return
    dropped = true
    await admin.unsafe(`drop database if exists ${name} with (force)`)
    await admin.end()
  }
  cleanup.add(drop)
  await admin.unsafe(`create database ${name}`)
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return { name, url: url.toString(), admin, drop }
}

export async function createBenchDatabase(
  adminUrl: string,
  cleanup: Cleanup,
): Promise<BenchDatabase> {
  const { name, url, admin, drop } = await throwawayDatabase(adminUrl, "nps_bench", cleanup)
  try {
    const seeded = await seed(url)
    const backends = async () =>
      (await admin`select pid from pg_stat_activity where datname = ${name}`).map(
        (r) => r.pid as number,
      )
    return { url, ...seeded, backends, drop }
  } catch (error) {
    await drop()
    throw error
  }
}

const chunks = <T>(rows: T[]) =>
  Array.from({ length: Math.ceil(rows.length / BATCH) }, (_, i) =>
    rows.slice(i * BATCH, (i + 1) * BATCH),
  )

async function seed(url: string) {
  const database = await createDb({ url, max: 4 })
  try {
    const { db } = database
    await migrate(db)
    const serviceKey = generateApiKey()
    await ensureServiceKey(db, serviceKey)

    const ids: string[] = []
    for (const batch of chunks(Array.from({ length: USERS }, (_, i) => i))) {
      const rows = await db
        .insert(users)
        // Nobody logs in as these users: a placeholder hash spares 10,000 argon2 runs.
        .values(batch.map((i) => ({ username: `bench_user_${i}`, passwordHash: "x" })))
        .returning({ id: users.id })
      ids.push(...rows.map((r) => r.id))
    }
    const chats = ids.map((_, i) => chatId(i))
    const linkedAt = new Date(Date.now() - 86_400_000)
    for (const batch of chunks(ids.map((userId, i) => ({ userId, i })))) {
      await db.insert(telegramLinks).values(
        batch.map(({ userId, i }) => ({
          telegramChatId: chats[i] as number,
          telegramUsername: `tg_user_${i}`,
          userId,
          linkedAt,
          lastActive: linkedAt,
        })),
      )
    }
    const profiles = ids.flatMap((userId, i) =>
      Array.from({ length: (i % 3) + 1 }, (_, n) => ({
        userId,
        name: `Profile ${n + 1}`,
        birthday: `19${70 + (i % 30)}-0${(n % 9) + 1}-1${n}`,
      })),
    )
    for (const batch of chunks(profiles)) await db.insert(oracleProfiles).values(batch)
    const readingRows = ids.flatMap((userId, i) =>
      Array.from({ length: i % 7 }, (_, n) => ({ userId, question: `Question ${n + 1}` })),
    )
    for (const batch of chunks(readingRows)) await db.insert(readings).values(batch)

    const userKeys = Array.from({ length: KEYED_USERS }, () => generateApiKey())
    await db.insert(apiKeys).values(
      userKeys.map((key, i) => ({
        userId: ids[i] as string,
        name: "bench",
        keyHash: hashApiKey(key),
        prefix: keyPrefix(key),
        scopes: ["oracle:read"],
      })),
    )
    // The sender of the accept scenario: an ordinary user's key allowed to notify.
    const notifyKey = generateApiKey()
    await db.insert(apiKeys).values({
      userId: ids[0] as string,
      name: "bench notify",
      keyHash: hashApiKey(notifyKey),
      prefix: keyPrefix(notifyKey),
      scopes: ["telegram:notify"],
    })
    // Fresh statistics, so both servers start from the plans a settled database would have.
    await db.execute(sql`vacuum analyze`)
    return { serviceKey, notifyKey, userKeys, chats }
  } finally {
    await database.close()
  }
}
