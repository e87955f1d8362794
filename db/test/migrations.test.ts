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

type Handle = Awaited<ReturnType<typeof createDb>>["db"]

const rowsOf = <T>(result: unknown): T[] =>
  // postgres.js returns the rows; PGlite wraps them in { rows }.
  Array.isArray(result) ? (result as T[]) : (result as { rows: T[] }).rows

/** Every table, column (with type and nullability) and index of the public schema, sorted. */
const schemaOf = async (db: Handle) => {
  const columns = rowsOf<{ item: string }>(
    await db.execute(sql`select table_name || '.' || column_name || ' ' || data_type || ' '
      || is_nullable as item from information_schema.columns where table_schema = 'public'`),
  )
  const indexes = rowsOf<{ item: string }>(
    await db.execute(sql`select 'index ' || indexname as item from pg_indexes
      where schemaname = 'public'`),
  )
  return [...columns, ...indexes].map((r) => r.item).sort()
}

const tablesOf = (schema: string[]) => [
  ...new Set(schema.filter((i) => !i.startsWith("index ")).map((i) => i.split(".")[0])),
]

for (const driver of drivers()) {
  test(`[${driver}] migrate is idempotent; every migration goes down and up again to the same schema`, async () => {
    const database = await openTestDatabase(driver) // already migrated once
    try {
      const { db } = database
      const migrations = readMigrations()
      const tags = migrations.map((m) => m.tag)
      expect(await migrate(db)).toEqual([])
      expect(await appliedMigrations(db)).toEqual(journal.entries.map((e) => e.tag))
      const full = await schemaOf(db)
      expect(tablesOf(full)).toEqual([
        "api_keys",
        "notification_deliveries",
        "notifications",
        "oracle_profiles",
        "readings",
        "telegram_link_tokens",
        "telegram_links",
        "user_preferences",
        "users",
        "webhook_endpoints",
        "webhook_messages",
      ])

      // Down one at a time, remembering the schema at each level…
      const below: string[][] = []
      for (const tag of [...tags].reverse()) {
        expect(await rollback(db)).toBe(tag)
        below.unshift(await schemaOf(db))
      }
      expect(below[0]).toEqual([])
      expect(await rollback(db)).toBeNull()

      // …then up one at a time: each level's schema is the one its rollback left.
      for (let level = 1; level <= tags.length; level++) {
        expect(await migrate(db, migrations.slice(0, level))).toEqual([tags[level - 1] as string])
        expect(await schemaOf(db)).toEqual(level < tags.length ? (below[level] as string[]) : full)
      }
      expect(await appliedMigrations(db)).toEqual(tags)
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
      const tags = readMigrations().map((m) => m.tag)
      for (const _ of tags) await rollback(db)
      const a = await createDb({ url: target.url as string, max: 1 })
      const b = await createDb({ url: target.url as string, max: 1 })
      try {
        const results = await Promise.all([migrate(a.db), migrate(b.db)])
        expect(results.flat().sort()).toEqual([...tags].sort())
        expect(await appliedMigrations(db)).toEqual(tags)
      } finally {
        await a.close()
        await b.close()
      }
    } finally {
      await target.close()
    }
  })
}
