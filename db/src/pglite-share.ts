// PGlite is one process's database. So that admin commands (and db:migrate) work while the API
// holds the directory, the API serves its PGlite on a Unix socket beside the directory with
// @electric-sql/pglite-socket (the Postgres wire protocol), and a second process connects to it
// with postgres.js instead of failing on the lock.
//
// PGlite has a single session, which the socket's client and the API's own queries share. Out of
// the box they interleave mid-transaction (each sees the other's uncommitted rows, and a client's
// ROLLBACK undoes the API's writes). So every message from the socket runs while holding PGlite's
// transaction lock, kept from the client's first message until it is back at a boundary (Sync or
// a simple query) outside a transaction: the API's queries and transactions run between the
// client's, never inside them. A client that goes quiet holding it is rolled back after `idleMs`.
//
// NOTIFY: the session LISTENs for the API, so notifications a socket client's commit raises come
// back in that client's stream; they are picked out and handed to the API's listeners too.
import { chmodSync } from "node:fs"
import type { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketServer } from "@electric-sql/pglite-socket"

type Internals = PGlite & {
  _runExclusiveTransaction<T>(fn: () => Promise<T>): Promise<T>
  _runExclusiveQuery<T>(fn: () => Promise<T>): Promise<T>
}

// Frontend message types that end a unit of work (and the startup message, which has none).
const SYNC = 0x53
const QUERY = 0x51
const TERMINATE = 0x58
const STARTUP = 0x00
const NOTIFICATION = 0x41

const simpleQuery = (text: string) => {
  const body = new TextEncoder().encode(`${text}\0`)
  const message = new Uint8Array(5 + body.length)
  message[0] = QUERY
  new DataView(message.buffer).setInt32(1, 4 + body.length)
  message.set(body, 5)
  return message
}

/** Channels of the NotificationResponse messages in a stream of backend messages. */
function notifiedChannels(chunks: Uint8Array[]): string[] {
  const bytes = Buffer.concat(chunks)
  const channels: string[] = []
  for (let at = 0; at + 5 <= bytes.length; ) {
    const length = bytes.readInt32BE(at + 1)
    if (length < 4) break // not a whole message stream: nothing more to read safely
    if (bytes[at] === NOTIFICATION) {
      const start = at + 9 // type, length, sender pid
      channels.push(bytes.toString("utf8", start, bytes.indexOf(0, start)))
    }
    at += 1 + length
  }
  return channels
}

/** A socket client idle inside a transaction longer than this is rolled back. */
export const IDLE_IN_TRANSACTION_MS = 2_000

export interface SharedPglite {
  stop(): Promise<void>
}

export async function sharePglite(
  client: PGlite,
  options: {
    /** The Unix socket to serve on (made reachable by this user only). */
    path: string
    /** A NOTIFY a socket client's statement raised on `channel`. */
    onNotification: (channel: string) => void
    idleMs?: number
  },
): Promise<SharedPglite> {
  const db = client as Internals
  // The API's queries wait while a socket client holds the session: a client idle inside a
  // transaction is rolled back after this, well within the API's 5-second rule.
  const { idleMs = IDLE_IN_TRANSACTION_MS } = options
  let release: (() => void) | undefined
  let watchdog: ReturnType<typeof setTimeout> | undefined
  let lastType = STARTUP

  /** Takes PGlite's transaction lock and keeps it until `release` is called. */
  const hold = () =>
    new Promise<() => void>((held) => {
      void db._runExclusiveTransaction(() => new Promise<void>((done) => held(done)))
    })
  const letGo = () => {
    clearTimeout(watchdog)
    release?.()
    release = undefined
  }
  const abandon = async () => {
    if (db.isInTransaction())
      await db._runExclusiveQuery(() => db.execProtocolRaw(simpleQuery("ROLLBACK")))
    letGo()
  }

  // What the socket server sees of PGlite: the same database, with the lock kept as above.
  const guarded = new Proxy(db, {
    get(target, prop, receiver) {
      if (prop === "runExclusive")
        return async <T>(fn: () => Promise<T>) => {
          release ??= await hold()
          clearTimeout(watchdog)
          try {
            return await target._runExclusiveQuery(fn)
          } finally {
            const boundary = [SYNC, QUERY, TERMINATE, STARTUP].includes(lastType)
            if (boundary && !target.isInTransaction()) letGo()
            else watchdog = setTimeout(() => void abandon(), idleMs)
          }
        }
      if (prop === "execProtocolRawStream")
        return async (message: Uint8Array, opts: { onRawData: (data: Uint8Array) => void }) => {
          lastType = message[0] ?? STARTUP
          const chunks: Uint8Array[] = []
          const result = await target.execProtocolRawStream(message, {
            ...opts,
            onRawData: (data: Uint8Array) => {
              chunks.push(data.slice())
              opts.onRawData(data)
            },
          })
          for (const channel of notifiedChannels(chunks)) options.onNotification(channel)
          return result
        }
      // The server's ROLLBACK for a client that disconnected inside a transaction: the lock is
      // ours already, so it must not wait for it.
      if (prop === "exec")
        return async (query: string) => {
          await target._runExclusiveQuery(() => target.execProtocolRaw(simpleQuery(query)))
          if (!target.isInTransaction()) letGo()
          return []
        }
      const value = Reflect.get(target, prop, receiver)
      return typeof value === "function" ? value.bind(target) : value
    },
  })

  const server = new PGLiteSocketServer({
    db: guarded,
    path: options.path,
    maxConnections: 1,
    idleTimeout: 60_000,
  })
  await server.start()
  chmodSync(options.path, 0o600)
  return {
    stop: async () => {
      await server.stop()
      letGo()
    },
  }
}
