// LISTEN/NOTIFY through Database.listen: what wakes the API's delivery long poll.
import { expect, setDefaultTimeout, test } from "bun:test"
import { sql } from "drizzle-orm"
import { createDb } from "../src/client"
import { drivers, openTestDatabase } from "./helpers"

// PGlite's first boot in a process compiles its WebAssembly.
setDefaultTimeout(30_000)

for (const driver of drivers()) {
  test(`[${driver}] listen hears a NOTIFY committed by another writer, and stops when told`, async () => {
    const database = await openTestDatabase(driver)
    // Postgres: another pool on the same database, as another API replica would be.
    const other =
      driver === "postgres" && database.url ? await createDb({ url: database.url }) : undefined
    const writer = other?.db ?? database.db
    try {
      const heard: string[] = []
      let wake = () => {}
      const woken = new Promise<void>((resolve) => (wake = resolve))
      const stop = await database.listen("nps_test_channel", () => {
        heard.push("ping")
        wake()
      })
      await writer.transaction(async (tx) => {
        await tx.execute(sql`select pg_notify('nps_test_channel', '')`)
      })
      await woken
      expect(heard).toEqual(["ping"])

      await stop()
      // Notifications of one transaction arrive in order: once the second channel's is heard,
      // the first channel's would have been too.
      let marked = () => {}
      const marker = new Promise<void>((resolve) => (marked = resolve))
      const stopMarker = await database.listen("nps_test_marker", () => marked())
      await writer.transaction(async (tx) => {
        await tx.execute(sql`select pg_notify('nps_test_channel', '')`)
        await tx.execute(sql`select pg_notify('nps_test_marker', '')`)
      })
      await marker
      await stopMarker()
      expect(heard).toEqual(["ping"])
    } finally {
      await other?.close()
      await database.close()
    }
  })
}
