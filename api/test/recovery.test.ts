// Issue 16, defect 5: after the database went silent and then refused connections, the API took
// 7–28 s to serve again. Cause: postgres.js's default reconnect backoff, shared by the whole
// pool, grows with every refused attempt (3^n / 100 s, up to 20 s), and a busy API racks up many
// in 100 ms. The pool now waits at most 250 ms (db/src/client.ts reconnectDelaySeconds).
// Contract: serving within 1 second once the database answers.
import { expect, test } from "bun:test"
import { join } from "node:path"
import { reconnectDelaySeconds } from "@nps/db"

const RUNS = 5

test("a pool's reconnect delay stays at most 250 ms however many attempts failed", () => {
  for (const retries of [0, 1, 5, 10, 100])
    expect(reconnectDelaySeconds(retries)).toBeLessThanOrEqual(0.25)
})

if (process.env.TEST_DATABASE_URL)
  test(`[postgres] frozen with 40 requests in flight (503), thawed, refused for 100 ms under traffic: serving again within 1 s, ${RUNS} times in a row`, async () => {
    const drill = Bun.spawn(["bun", join(import.meta.dir, "support", "recovery-drill.ts")], {
      env: { ...process.env, DRILL_RUNS: String(RUNS) },
      stdout: "pipe",
      stderr: "pipe",
    })
    const [code, out, err] = await Promise.all([
      drill.exited,
      new Response(drill.stdout).text(),
      new Response(drill.stderr).text(),
    ])
    if (code !== 0) throw new Error(`drill failed (${code}): ${err.slice(-2000)}`)
    const { recoveries, frozen } = JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as {
      recoveries: number[]
      frozen: number[]
    }
    console.info(`recovery after refused connections (ms): ${recoveries.join(", ")}`)
    expect(frozen).toEqual([503])
    expect(recoveries).toHaveLength(RUNS)
    for (const ms of recoveries) {
      expect(ms).toBeGreaterThanOrEqual(0)
      expect(ms).toBeLessThan(1_000)
    }
  }, 180_000)
