// State shared by replicas (REDIS_URL): a thin layer over Bun's built-in Redis client. Callers
// run atomic Lua scripts (no read-then-write across round trips), and every way Redis can fail
// to answer — refused, dropped, hung, a wrong password, out of memory — becomes one error,
// RedisUnavailableError, on which each caller falls back to its in-memory twin. Nothing
// connects until the first call; a Redis that is down at start is not fatal.
import { describeError, type Logger } from "@nps/log"
import { RedisClient } from "bun"
import { authFailure } from "./diagnose"

export class RedisUnavailableError extends Error {
  override name = "RedisUnavailableError"
}

export interface Script {
  readonly source: string
  readonly sha: string
}

/** A Lua script, run atomically by Redis: by its SHA1 (EVALSHA), sent whole only when Redis lacks it. */
export function defineScript(source: string): Script {
  return { source, sha: new Bun.CryptoHasher("sha1").update(source).digest("hex") }
}

export interface SharedRedis {
  /** The prefix, then the parts joined by ":" — the name of every key this product writes. */
  key(...parts: (string | number)[]): string
  /** Runs `script` with KEYS and ARGV; throws RedisUnavailableError when Redis cannot answer. */
  run(script: Script, keys: string[], args: (string | number)[]): Promise<unknown>
  /** Whether the last call reached Redis (false before the first). */
  readonly available: boolean
  close(): void
}

export interface SharedRedisOptions {
  /** redis://[user:password@]host:port[/db], rediss:// for TLS. */
  url: string
  logger: Logger
  /** What callers do while Redis is unavailable, for the one log line that says it went away. */
  fallback: string
  /** Start of every key (default "nps:"); tests use a random one, as the server is shared. */
  prefix?: string
  /** A call, connecting included, that takes longer counts as Redis being unavailable. */
  timeoutMs?: number
  /** After a failure, calls fail at once for this long before Redis is tried again. */
  retryAfterMs?: number
}

export function createSharedRedis(options: SharedRedisOptions): SharedRedis {
  const {
    url,
    logger,
    fallback,
    prefix = "nps:",
    timeoutMs = 1_000,
    retryAfterMs = 1_000,
  } = options
  // Reconnecting is done here, per call: Bun's own would queue commands without bound (offline
  // queue) or, after maxRetries, give up on the client for good.
  const connect = () =>
    new RedisClient(url, {
      autoReconnect: false,
      enableOfflineQueue: false,
      connectionTimeout: timeoutMs,
    })
  let client = connect()
  const hasCredentials = URL.canParse(url) && new URL(url).password !== ""
  let connecting: Promise<void> | undefined
  let state: "unknown" | "up" | "down" = "unknown"
  let retryAt = 0
  let closed = false

  const withinDeadline = <T>(promise: Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new RedisUnavailableError(`Redis did not answer within ${timeoutMs} ms`)),
        timeoutMs,
      )
      promise.then(resolve, reject).finally(() => clearTimeout(timer))
    })

  const ready = async () => {
    if (client.connected) return
    const current = client
    connecting ??= current.connect().finally(() => {
      connecting = undefined
    })
    await withinDeadline(connecting)
  }

  const wentDown = (error: unknown) => {
    retryAt = Date.now() + retryAfterMs
    // A hung connection would hold every later command behind it: start over with a new one.
    const old = client
    client = connect()
    old.close()
    if (state !== "down") void reportOutage(error)
    state = "down"
  }

  // Once per outage. Bun says only "Connection closed" when Redis refuses the credentials: ask
  // the server, so the log names the cause in words. Calls keep being retried either way.
  const reportOutage = async (error: unknown) => {
    const auth = hasCredentials ? await authFailure(url, timeoutMs) : undefined
    logger.error(
      auth ? `Redis unavailable (${auth}): ${fallback}` : `Redis unavailable: ${fallback}`,
      {
        error: describeError(error),
        ...(auth && { cause: auth }),
      },
    )
  }

  const cameUp = () => {
    if (state === "down") logger.info("Redis available again: shared state is back in use")
    state = "up"
  }

  return {
    key: (...parts) => `${prefix}${parts.join(":")}`,
    get available() {
      return state === "up"
    },
    async run(script, keys, args) {
      if (closed) throw new RedisUnavailableError("the Redis client is closed")
      if (Date.now() < retryAt)
        throw new RedisUnavailableError("Redis was unavailable moments ago; not tried again yet")
      const argv = [String(keys.length), ...keys, ...args.map(String)]
      try {
        await ready()
        let result: unknown
        try {
          result = await withinDeadline(client.send("EVALSHA", [script.sha, ...argv]))
        } catch (error) {
          if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error
          result = await withinDeadline(client.send("EVAL", [script.source, ...argv]))
        }
        cameUp()
        return result
      } catch (error) {
        wentDown(error)
        throw error instanceof RedisUnavailableError
          ? error
          : new RedisUnavailableError("Redis could not be used", { cause: error })
      }
    },
    close() {
      closed = true
      client.close()
    },
  }
}

/** `shared()` through Redis; while Redis is unavailable, `local()` instead. */
export async function sharedOrLocal<T>(
  shared: () => Promise<T>,
  local: () => T | Promise<T>,
): Promise<T> {
  try {
    return await shared()
  } catch (error) {
    if (error instanceof RedisUnavailableError) return local()
    throw error
  }
}
