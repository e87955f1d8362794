import { readFileSync } from "node:fs"
import { join } from "node:path"
import { desc, sql } from "drizzle-orm"
import { bigint, pgSchema, serial, text } from "drizzle-orm/pg-core"
import type { Db } from "./client"

const MIGRATIONS_DIR = join(import.meta.dir, "..", "drizzle")
const ROLLBACK_DIR = join(import.meta.dir, "..", "rollback")
// Any constant works; it only has to be the same for every migrator of this database.
const MIGRATION_LOCK = 7_243_001

// The table drizzle-kit's own migrator keeps, so either tool sees the same history.
const applied = pgSchema("drizzle").table("__drizzle_migrations", {
  id: serial("id").primaryKey(),
  hash: text("hash").notNull(),
  createdAt: bigint("created_at", { mode: "number" }),
})

export interface Migration {
  tag: string
  /** The journal's `when`, stored as `created_at` of the applied row. */
  when: number
  hash: string
  statements: string[]
  rollback: string[]
}

interface Journal {
  entries: { tag: string; when: number }[]
}

const splitStatements = (text: string) =>
  text
    .split("--> statement-breakpoint")
    .map((s) => s.trim())
    .filter(Boolean)

export function readMigrations(dir = MIGRATIONS_DIR, rollbackDir = ROLLBACK_DIR): Migration[] {
  const journal: Journal = JSON.parse(readFileSync(join(dir, "meta", "_journal.json"), "utf8"))
  return journal.entries.map(({ tag, when }) => {
    const text = readFileSync(join(dir, `${tag}.sql`), "utf8")
    return {
      tag,
      when,
      hash: new Bun.CryptoHasher("sha256").update(text).digest("hex"),
      statements: splitStatements(text),
      rollback: splitStatements(readFileSync(join(rollbackDir, `${tag}.sql`), "utf8")),
    }
  })
}

/**
 * One transaction under a Postgres advisory lock: concurrent migrators queue up and the
 * later ones find nothing left to do. Migrations are matched by hash, not by timestamp, so an
 * out-of-order file is applied rather than silently skipped.
 */
async function locked<T>(db: Db, work: (tx: Db) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${MIGRATION_LOCK})`)
    await tx.execute(sql`create schema if not exists drizzle`)
    await tx.execute(sql`create table if not exists drizzle.__drizzle_migrations (
      id serial primary key, hash text not null, created_at bigint)`)
    return work(tx as unknown as Db)
  })
}

/** Applies every pending migration; returns the tags applied. */
export async function migrate(db: Db, migrations = readMigrations()): Promise<string[]> {
  return locked(db, async (tx) => {
    const done = new Set((await tx.select({ hash: applied.hash }).from(applied)).map((r) => r.hash))
    const tags: string[] = []
    for (const m of migrations) {
      if (done.has(m.hash)) continue
      for (const statement of m.statements) await tx.execute(sql.raw(statement))
      await tx.insert(applied).values({ hash: m.hash, createdAt: m.when })
      tags.push(m.tag)
    }
    return tags
  })
}

/** Undoes the latest applied migration with its rollback SQL; returns its tag, or null. */
export async function rollback(db: Db, migrations = readMigrations()): Promise<string | null> {
  return locked(db, async (tx) => {
    const [latest] = await tx
      .select()
      .from(applied)
      .orderBy(desc(applied.createdAt), desc(applied.id))
      .limit(1)
    if (!latest) return null
    const m = migrations.find((x) => x.hash === latest.hash)
    if (!m)
      throw new Error(
        `applied migration ${latest.hash.slice(0, 12)}… is not in db/drizzle; cannot roll it back`,
      )
    for (const statement of m.rollback) await tx.execute(sql.raw(statement))
    await tx.delete(applied).where(sql`${applied.id} = ${latest.id}`)
    return m.tag
  })
}

/** Tags of applied migrations, oldest first. */
export async function appliedMigrations(db: Db, migrations = readMigrations()): Promise<string[]> {
  const rows = await locked(db, (tx) =>
    tx.select().from(applied).orderBy(applied.createdAt, applied.id),
  )
  return rows.map((r) => migrations.find((m) => m.hash === r.hash)?.tag ?? r.hash)
}
