import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { PGlite } from "@electric-sql/pglite"
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core"
import { drizzle as drizzlePglite } from "drizzle-orm/pglite"
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js"
import postgres from "postgres"
import * as schema from "./schema"

export type Schema = typeof schema
/** The query API both drivers share; everything above the client is written against it. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>

/** Where the data lives: a Postgres URL, a PGlite directory, or (tests) PGlite in memory. */
export type DbTarget =
  | { url: string; max?: number }
  | { pgliteDir: string }
  /** In memory, optionally starting from a `dumpDataDir()` snapshot (fast test databases). */
  | { memory: true; snapshot?: Blob }

export interface Database {
  db: Db
  driver: "postgres" | "pglite"
  close(): Promise<void>
}

export class DatabaseLockedError extends Error {
  override name = "DatabaseLockedError"
}

export async function createDb(target: DbTarget): Promise<Database> {
  if ("url" in target) {
    const client = postgres(target.url, {
      max: target.max ?? 10,
      connect_timeout: 5,
      onnotice: () => {},
      // Hot statements are prepared; a generic plan spares Postgres re-planning them per
      // execution (PITFALLS.md measured custom plans at ~3x backend CPU on this machine).
      connection: { plan_cache_mode: "force_generic_plan" },
    })
    return {
      db: drizzlePostgres(client, { schema }) as unknown as Db,
      driver: "postgres",
      close: () => client.end({ timeout: 5 }),
    }
  }
  if ("memory" in target) {
    const client = await PGlite.create(target.snapshot ? { loadDataDir: target.snapshot } : {})
    return {
      db: drizzlePglite(client, { schema }) as unknown as Db,
      driver: "pglite",
      close: () => client.close(),
    }
  }
  const dir = resolve(target.pgliteDir)
  const release = lockDirectory(dir)
  try {
    mkdirSync(dir, { recursive: true })
    const client = await PGlite.create(dir)
    return {
      db: drizzlePglite(client, { schema }) as unknown as Db,
      driver: "pglite",
      // Awaiting close flushes the WAL; a kill without it can leave the directory unbootable.
      close: async () => {
        try {
          await client.close()
        } finally {
          release()
        }
      },
    }
  } catch (error) {
    release()
    throw error
  }
}

// Directories this process holds. A lock file naming our own pid but not listed here was left by
// an earlier process that had the same pid — routine in containers, where pids repeat.
const heldHere = new Set<string>()

/**
 * PGlite is single-process and has no lock of its own: a second process on the same directory
 * corrupts it. A pid file beside the directory makes the second one fail fast instead.
 */
function lockDirectory(dir: string): () => void {
  const lockPath = `${dir}.lock`
  mkdirSync(dirname(lockPath), { recursive: true })
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, "wx")
      writeSync(fd, String(process.pid))
      closeSync(fd)
      heldHere.add(dir)
      return () => {
        heldHere.delete(dir)
        rmSync(lockPath, { force: true })
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
      const owner = Number.parseInt(readFileSync(lockPath, "utf8"), 10)
      const live =
        owner === process.pid ? heldHere.has(dir) : Number.isInteger(owner) && isAlive(owner)
      if (live) {
        throw new DatabaseLockedError(
          `PGlite directory ${dir} is in use by process ${owner}; PGlite allows one process at a time — stop that process, or set DATABASE_URL to use Postgres`,
        )
      }
      rmSync(lockPath, { force: true }) // stale: its owner is gone
    }
  }
  throw new DatabaseLockedError(`could not lock PGlite directory ${dir}`)
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}
