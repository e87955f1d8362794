// Redis for tests: TEST_REDIS_URL when set (then it must answer: CI sets it), else the usual
// local server if one answers. The server is shared with whatever else runs on the machine, so
// every test gets keys of its own under a random prefix.
import type { Logger } from "@nps/log"
import { createSharedRedis, type SharedRedis, type SharedRedisOptions } from "@nps/redis"
import { RedisClient } from "bun"

// An empty value counts as unset, as everywhere else.
const url = process.env.TEST_REDIS_URL || "redis://127.0.0.1:6379"

async function answers(target: string): Promise<boolean> {
  let client: RedisClient | undefined
  try {
    client = new RedisClient(target, { autoReconnect: false, connectionTimeout: 2_000 })
    return (await client.send("PING", [])) === "PONG"
  } catch {
    return false
  } finally {
    client?.close()
  }
}

/** The Redis URL tests use, or undefined when none answers (and TEST_REDIS_URL is not set). */
export const TEST_REDIS_URL: string | undefined =
  process.env.TEST_REDIS_URL || (await answers(url)) ? url : undefined

if (!TEST_REDIS_URL)
  console.log(`Redis tests left out: nothing answers at ${url} (set TEST_REDIS_URL to require it)`)

export const testPrefix = () => `nps-test:${crypto.randomUUID()}:`

/** A client on the test server, quick to give up so outage drills stay short. */
export function openTestRedis(
  logger: Logger,
  options: Partial<SharedRedisOptions> & { prefix: string },
): SharedRedis {
  const url = options.url ?? TEST_REDIS_URL
  if (!url) throw new Error("no test Redis")
  return createSharedRedis({
    logger,
    fallback: "falling back to memory",
    timeoutMs: 1_000,
    retryAfterMs: 0,
    ...options,
    url,
  })
}

/** A raw client for looking at (and fast-forwarding) what the product wrote. */
export function rawRedis(): RedisClient {
  if (!TEST_REDIS_URL) throw new Error("no test Redis")
  return new RedisClient(TEST_REDIS_URL)
}

/** A port nothing listens on: connecting is refused. */
export function closedPort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } })
  const port = listener.port
  listener.stop(true)
  return port
}
