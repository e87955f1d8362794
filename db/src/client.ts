import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from "node:fs"
import { dirname, resolve } from "node:path"
import { PGlite } from "@electric-sql/pglite"
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core"
import { drizzle as drizzlePglite } from "drizzle-orm/pglite"
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js"
import postgres from "postgres"
import { OWNER_FILE_MODE, restrictToOwner } from "./owner-only"
import { sharePglite } from "./pglite-share"
import * as schema from "./schema"

export type Schema = typeof schema
/** The query API both drivers share; everything above the client is written against it. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>

/** Where the data lives: a Postgres URL, a PGlite directory, or (tests) PGlite in memory. */
export type DbTarget =
  | {
      url: string
      max?: number
      /**
       * Server-side limit for each statement, and a client-side deadline for each query
       * (waiting for a pooled connection included). Off by default: migrations and CLIs may
       * legitimately wait longer (for the migration lock, for instance).
       */
      queryTimeoutMs?: number
    }
  | {
      pgliteDir: string
      /**
       * Serve the directory to other processes (admin commands, db:migrate) on a Unix socket
       * beside it while this process holds it; they connect there instead of failing on the lock.
       */
      share?: boolean
    }
  /** In memory, optionally starting from a `dumpDataDir()` snapshot (fast test databases). */
  | { memory: true; snapshot?: Blob }

/** Runs `onNotify` for every Postgres NOTIFY on `channel`; resolves to a function that stops. */
export type Listen = (channel: string, onNotify: () => void) => Promise<() => Promise<void>>

export interface Database {
  db: Db
  driver: "postgres" | "pglite"
  close(): Promise<void>
  /**
   * LISTEN: with Postgres on a connection of its own (re-established by postgres.js after an
   * outage), with PGlite in process. Notifications are wake-up calls, never data: a listener
   * re-reads the tables, so one lost while reconnecting costs a delay, never a message.
   */
  listen: Listen
  /** With a query deadline: what the pool is doing, for metrics. */
  stats?: () => QueryStats
}

export interface QueryStats {
  /** Queries sent or waiting for a connection right now. */
  inFlight: number
  /** Queries given up at the deadline since start. */
  timedOut: number
}

export class DatabaseLockedError extends Error {
  override name = "DatabaseLockedError"
}

/**
 * How long a pool connection waits before connecting again, after `retries` failed attempts
 * (shared by the whole pool). postgres.js's default grows to 10–20 s after a few refused
 * connections, so a database that refused them for 100 ms was not used again for up to 28 s.
 * Capped at 250 ms, the API serves within a second of the database answering again; at most
 * four attempts a second per connection while it does not.
 */
export const reconnectDelaySeconds = (retries: number) => Math.min(0.01 * 2 ** retries, 0.25)

export async function createDb(target: DbTarget): Promise<Database> {
  if ("url" in target) {
    const timeout = target.queryTimeoutMs
    const client = postgres(target.url, {
      max: target.max ?? 10,
      connect_timeout: timeout ? Math.max(1, Math.ceil(timeout / 1000)) : 5,
      onnotice: () => {},
      backoff: reconnectDelaySeconds,
      connection: {
        // Hot statements are prepared; a generic plan spares Postgres re-planning them per
        // execution (PITFALLS.md measured custom plans at ~3x backend CPU on this machine).
        plan_cache_mode: "force_generic_plan",
        ...(timeout && { statement_timeout: timeout }),
      },
    })
    const stats = timeout ? withQueryDeadline(client, timeout) : undefined
    return {
      db: drizzlePostgres(client, { schema }) as unknown as Db,
      driver: "postgres",
      close: () => client.end({ timeout: 5 }),
      listen: async (channel, onNotify) => {
        const { unlisten } = await client.listen(channel, () => onNotify())
        return unlisten
      },
      ...(stats && { stats: () => ({ ...stats }) }),
    }
  }
  if ("memory" in target) {
    const client = await PGlite.create(target.snapshot ? { loadDataDir: target.snapshot } : {})
    return {
      db: drizzlePglite(client, { schema }) as unknown as Db,
      driver: "pglite",
      close: () => client.close(),
      listen: pgliteListeners(client).listen,
    }
  }
  const dir = resolve(target.pgliteDir)
  const socket = `${dir}.sock`
  let release: () => void
  try {
    release = lockDirectory(dir)
  } catch (error) {
    // Held by a live process: through its socket, if it serves one. Not for a would-be owner
    // (a second API): it must fail as before, not quietly become a client of the first.
    const owner = "share" in target && target.share
    if (error instanceof DatabaseLockedError && !owner && existsSync(socket))
      return connectShared(socket).catch(() => Promise.reject(error))
    throw error
  }
  try {
    // Before opening (a directory made by an older version, or restored from a backup) and
    // after: a new database's files are written 0666.
    restrictToOwner(dir)
    const client = await PGlite.create(dir)
    restrictToOwner(dir)
    const listeners = pgliteListeners(client)
    // A socket path is limited to ~100 bytes; a deeper directory is simply not shared.
    const shared =
      "share" in target && target.share && Buffer.byteLength(socket) < 100
        ? await (async () => {
            rmSync(socket, { force: true }) // left by an owner that died
            return sharePglite(client, { path: socket, onNotification: listeners.dispatch })
          })()
        : undefined
    return {
      db: drizzlePglite(client, { schema }) as unknown as Db,
      driver: "pglite",
      listen: listeners.listen,
      // Awaiting close flushes the WAL; a kill without it can leave the directory unbootable.
      close: async () => {
        try {
          await shared?.stop()
          await client.close()
          restrictToOwner(dir) // anything written while open (inside a 0700 directory)
        } finally {
          if (shared) rmSync(socket, { force: true })
          release()
        }
      },
    }
  } catch (error) {
    release()
    throw error
  }
}

/** Another process's PGlite, through the socket it serves (see pglite-share.ts). */
async function connectShared(path: string): Promise<Database> {
  const client = postgres({
    path,
    max: 1,
    database: "postgres",
    username: "postgres",
    connect_timeout: 5,
    onnotice: () => {},
  })
  try {
    await client`select 1`
  } catch (error) {
    await client.end({ timeout: 0 })
    throw error
  }
  return {
    db: drizzlePostgres(client, { schema }) as unknown as Db,
    driver: "pglite",
    close: () => client.end({ timeout: 5 }),
    // The socket takes one connection, and LISTEN would need a second.
    listen: () => Promise.reject(new Error("LISTEN is not available through a shared PGlite")),
  }
}

/**
 * LISTEN in process, one PGlite subscription per channel, plus `dispatch` for notifications that
 * reach this process another way (raised through the shared socket).
 */
function pgliteListeners(client: PGlite) {
  const channels = new Map<
    string,
    { fns: Set<() => void>; unlisten: Promise<() => Promise<void>> }
  >()
  const dispatch = (channel: string) => {
    for (const fn of [...(channels.get(channel)?.fns ?? [])]) fn()
  }
  const listen: Listen = async (channel, onNotify) => {
    let entry = channels.get(channel)
    if (!entry) {
      entry = { fns: new Set(), unlisten: client.listen(channel, () => dispatch(channel)) }
      channels.set(channel, entry)
    }
    const subscribed = entry
    subscribed.fns.add(onNotify)
    await subscribed.unlisten
    return async () => {
      subscribed.fns.delete(onNotify)
      if (subscribed.fns.size || channels.get(channel) !== subscribed) return
      channels.delete(channel)
      await (await subscribed.unlisten)()
    }
  }
  return { listen, dispatch }
}

export const QUERY_TIMEOUT = "QUERY_TIMEOUT"

/**
 * Gives every query of the pool a deadline. postgres.js bounds connecting (connect_timeout) and
 * Postgres bounds a running statement (statement_timeout), but nothing bounds a query on a socket
 * that went silent (a frozen server or network path) or one queued behind such queries: it waits
 * for the whole outage. At the deadline the caller gets a QUERY_TIMEOUT error; a query that was
 * never sent is withdrawn (it will not run later), one already sent may still complete once the
 * socket answers, and its connection is usable again then (or replaced when it closes).
 */
function withQueryDeadline(client: postgres.Sql, ms: number): QueryStats {
  const stats: QueryStats = { inFlight: 0, timedOut: 0 }
  /** Gives every query made through `sql.unsafe` (Drizzle's only way in) the deadline. */
  const bound = (sql: Pick<postgres.Sql, "unsafe">, onTimeout: (error: Error) => void) => {
    const unsafe = sql.unsafe.bind(sql)
    sql.unsafe = ((...args: Parameters<typeof unsafe>) => {
      const query = unsafe(...args)
      stats.inFlight++
      const timer = setTimeout(() => {
        stats.timedOut++
        const error = Object.assign(new Error(`query did not complete within ${ms} ms`), {
          code: QUERY_TIMEOUT,
        })
        const pending = query as unknown as { reject(e: Error): void; state: unknown }
        pending.reject(error)
        onTimeout(error)
        // A query still waiting for a connection is withdrawn, so it never runs later. One
        // already written to a connection is left to finish there in order: postgres.js's
        // cancel() would skip it in the connection's pipeline and hand its results to the next.
        if (!pending.state) void Promise.resolve(query.cancel()).catch(() => {})
      }, ms)
      const settle = () => {
        clearTimeout(timer)
        stats.inFlight--
      }
      // The query runs when first awaited (a microtask after this), so this starts nothing early.
      query.then(settle, settle)
      return query
    }) as typeof sql.unsafe
  }
  bound(client, () => {})
  // A transaction runs on a connection of its own (not the pool's unsafe): its statements get the
  // deadline too, and the transaction fails at once when one misses it, rather than waiting for
  // its ROLLBACK to get through a socket that went silent (the ROLLBACK still goes when it can).
  const begin = client.begin.bind(client) as (...args: unknown[]) => Promise<unknown>
  client.begin = ((...args: unknown[]) => {
    const body = args.pop() as (sql: postgres.TransactionSql) => unknown
    let timedOut: (error: Error) => void = () => {}
    const deadline = new Promise<never>((_, reject) => {
      timedOut = reject
    })
    const run = begin(...args, (sql: postgres.TransactionSql) => {
      bound(sql, timedOut)
      return body(sql)
    })
    run.catch(() => {}) // settled late, after a deadline already failed the caller
    return Promise.race([run, deadline])
  }) as typeof client.begin
  return stats
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
      const fd = openSync(lockPath, "wx", OWNER_FILE_MODE)
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
