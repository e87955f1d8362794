// Test databases: PGlite in memory always; a throwaway Postgres database per call when
// TEST_DATABASE_URL is set, so every suite runs on both drivers.
import type { PGlite } from "@electric-sql/pglite"
import postgres from "postgres"
import { createDb, type Database } from "../../db/src/client"
import { migrate } from "../../db/src/migrate"

export type Driver = "pglite" | "postgres"

export const drivers = (): Driver[] =>
  process.env.TEST_DATABASE_URL ? ["pglite", "postgres"] : ["pglite"]

// Booting PGlite from scratch takes seconds; loading a migrated snapshot, a fraction of one.
// Only the bytes are shared between test files, never a live database handle.
let snapshot: Promise<Blob> | undefined
const migratedSnapshot = () => {
  snapshot ??= (async () => {
    const template = await createDb({ memory: true })
    await migrate(template.db)
    const { $client } = template.db as unknown as { $client: PGlite }
    const blob = await $client.dumpDataDir("none")
    await template.close()
    return blob
  })()
  return snapshot
}

/** A fresh, migrated database for one test file, dropped on close. */
export async function openTestDatabase(driver: Driver): Promise<Database & { url?: string }> {
  if (driver === "pglite") return createDb({ memory: true, snapshot: await migratedSnapshot() })
  const adminUrl = process.env.TEST_DATABASE_URL as string
  const name = `nps_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${name}`)
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  const database = await createDb({ url: url.toString() })
  await migrate(database.db)
  return {
    ...database,
    url: url.toString(),
    close: async () => {
      await database.close()
      await admin.unsafe(`drop database if exists ${name} with (force)`)
      await admin.end()
    },
  }
}
