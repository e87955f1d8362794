import { expect, test } from "bun:test"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { sql } from "drizzle-orm"
import { createDb } from "../src/client"
import { appliedMigrations, migrate, readMigrations, rollback } from "../src/migrate"
import { drivers, openTestDatabase } from "./helpers"

const DRIZZLE = join(import.meta.dir, "..", "drizzle")
const journal: { entries: { tag: string; when: number }[] } = JSON.parse(
  readFileSync(join(DRIZZLE, "meta", "_journal.json"), "utf8"),
)

test("journal timestamps strictly increase and every entry has its SQL and rollback SQL", () => {
  const whens = journal.entries.map((e) => e.when)
  expect(whens).toEqual([...whens].sort((a, b) => a - b))
  expect(new Set(whens).size).toBe(whens.length)
  for (const { tag } of journal.entries) {
    expect(existsSync(join(DRIZZLE, `${tag}.sql`))).toBe(true)
    expect(existsSync(join(import.meta.dir, "..", "rollback", `${tag}.sql`))).toBe(true)
  }
})

const tables = async (db: Awaited<ReturnType<typeof createDb>>["db"]) => {
  const result = await db.execute<{ table_name: string }>(
    sql`select table_name from information_schema.tables where table_schema = 'public' order by 1`,
  )
  // postgres.js returns the rows; PGlite wraps them in { rows }.
  const rows = Array.isArray(result) ? result : (result as { rows: { table_name: string }[] }).rows
  return rows.map((r) => r.table_name)
}

for (const driver of drivers()) {
  test(`[${driver}] migrate is idempotent; up → down → up restores the schema`, async () => {
    const database = await openTestDatabase(driver) // already migrated once
    try {
      const { db } = database
      expect(await migrate(db)).toEqual([])
      expect(await appliedMigrations(db)).toEqual(journal.entries.map((e) => e.tag))
      const full = await tables(db)
      expect(full).toEqual(["api_keys", "oracle_profiles", "readings", "telegram_links", "users"])

      expect(await rollback(db)).toBe("0001_telegram_links")
      expect(await tables(db)).not.toContain("telegram_links")
      expect(await rollback(db)).toBe("0000_core")
      expect(await tables(db)).toEqual([])
      expect(await rollback(db)).toBeNull()

      expect(await migrate(db)).toEqual(["0000_core", "0001_telegram_links"])
      expect(await tables(db)).toEqual(full)
    } finally {
      await database.close()
    }
  })
}

test("[pglite] concurrent migrate calls apply each migration once", async () => {
  const { db, close } = await createDb({ memory: true })
  try {
    const results = await Promise.all([migrate(db), migrate(db), migrate(db)])
    expect(results.flat().sort()).toEqual(
      readMigrations()
        .map((m) => m.tag)
        .sort(),
    )
    expect(await appliedMigrations(db)).toHaveLength(journal.entries.length)
  } finally {
    await close()
  }
})

if (process.env.TEST_DATABASE_URL) {
  test("[postgres] two migrator processes' connections starting at once apply each migration once", async () => {
    const target = await openTestDatabase("postgres")
    try {
      const db = target.db
      // Start from an empty schema, then race two independent connection pools.
      await rollback(db)
      await rollback(db)
      const a = await createDb({ url: target.url as string, max: 1 })
      const b = await createDb({ url: target.url as string, max: 1 })
      try {
        const results = await Promise.all([migrate(a.db), migrate(b.db)])
        expect(results.flat().sort()).toEqual(["0000_core", "0001_telegram_links"])
        expect(await appliedMigrations(db)).toEqual(["0000_core", "0001_telegram_links"])
      } finally {
        await a.close()
        await b.close()
      }
    } finally {
      await target.close()
    }
  })
}
