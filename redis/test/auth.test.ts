// A REDIS_URL with a wrong password: the log says authentication failed (Bun's client says only
// "Connection closed"), never the password, and calls keep being retried, so fixing the password
// on the server brings shared state back without a restart.
import { afterEach, expect, test } from "bun:test"
import { createLogger } from "@nps/log"
import { RedisClient } from "bun"
import { defineScript, RedisUnavailableError, type SharedRedis } from "../src"
import { openTestRedis, TEST_REDIS_URL, testPrefix } from "./helpers"

const PING = defineScript("return 'pong'")

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

if (TEST_REDIS_URL)
  test("wrong password: 'authentication failed' logged once without the password; retried until the password is right", async () => {
    // An ACL user of our own on the shared server, whose password only the test knows.
    const user = `nps-test-${crypto.randomUUID().slice(0, 8)}`
    const wrong = `wrong-${crypto.randomUUID()}`
    const admin = new RedisClient(TEST_REDIS_URL)
    cleanups.push(() => admin.close())
    await admin.send("ACL", ["SETUSER", user, "on", ">right-password", "~*", "+@all"])
    cleanups.push(() => admin.send("ACL", ["DELUSER", user]))

    const lines: string[] = []
    const { promise: errorLogged, resolve } = Promise.withResolvers<string>()
    const logger = createLogger({
      service: "test",
      write: (line) => {
        lines.push(line)
        if (line.includes('"level":"error"')) resolve(line)
      },
    })
    const url = new URL(TEST_REDIS_URL as string)
    url.username = user
    url.password = wrong
    const redis: SharedRedis = openTestRedis(logger, { url: url.toString(), prefix: testPrefix() })
    cleanups.push(() => redis.close())

    for (let i = 0; i < 3; i++)
      await expect(redis.run(PING, [], [])).rejects.toBeInstanceOf(RedisUnavailableError)
    const line = JSON.parse(await errorLogged)
    expect(line.msg).toContain("authentication failed")
    expect(line.msg).toContain("REDIS_URL")
    expect(lines.join("\n")).not.toContain(wrong)

    // The operator fixes it on the server: the next call gets through (no restart).
    await admin.send("ACL", ["SETUSER", user, `>${wrong}`])
    expect(await redis.run(PING, [], [])).toBe("pong")
    expect(lines.filter((l) => l.includes('"level":"error"'))).toHaveLength(1)
    expect(lines.at(-1)).toContain("Redis available again")
  })
