// The outbox survives the API being killed: a real API process (start:api on Postgres) makes a
// first attempt that fails, is killed with SIGKILL, and the next process sends the retry with the
// same webhook-id. Postgres only: SIGKILL on an embedded PGlite directory is the documented way
// to corrupt it, and no operator should do that.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test"
import { join } from "node:path"
import { webhookMessages } from "@nps/db"
import { createLogger } from "@nps/log"
import { createApp } from "../src/app"
import { drivers, openTestDatabase, req, seedUser, testConfig } from "./helpers"
import { startReceiver } from "./webhook-receiver"

setDefaultTimeout(120_000)
const ROOT = join(import.meta.dir, "..", "..")

function startApi(env: Record<string, string>) {
  const proc = Bun.spawn(["bun", "api/src/main.ts"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOST: "127.0.0.1", PORT: "0", ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "ignore",
  })
  // Reads stdout to the end (a closed pipe would kill the API with EPIPE); resolves at listening.
  const base = new Promise<string>((resolve, reject) => {
    void (async () => {
      const decoder = new TextDecoder()
      let text = ""
      for await (const chunk of proc.stdout) {
        text += decoder.decode(chunk)
        const line = text.split("\n").find((l) => l.includes('"api listening"'))
        if (line) resolve(JSON.parse(line).url as string)
      }
      reject(new Error("the API exited before listening"))
    })()
  })
  return { proc, base }
}

for (const driver of drivers().filter((d) => d === "postgres")) {
  const running: Bun.Subprocess[] = []
  afterAll(() => {
    for (const proc of running) proc.kill("SIGKILL")
  })

  test(`[${driver}] an API killed with SIGKILL between attempts: the next one sends the retry, same webhook-id`, async () => {
    const database = await openTestDatabase(driver)
    const receiver = startReceiver([500, 200])
    try {
      const sender = await seedUser(database.db, { username: "svc", scopes: ["telegram:notify"] })
      await seedUser(database.db, { username: "carol" })
      // Registered through an in-process app (same rules), so the process test needs no token.
      const app = createApp({
        db: database.db,
        config: testConfig({ NOTIFY_WEBHOOKS_ALLOW_PRIVATE: "true" }),
        logger: createLogger({ service: "api", level: "error", write: () => {} }),
      })
      const endpoint = await req(app, "POST", "/api/telegram/webhook-endpoints", {
        token: sender.key,
        body: { url: receiver.url },
      })
      expect(endpoint.status).toBe(201)

      const env = {
        DATABASE_URL: database.url as string,
        NOTIFY_WEBHOOKS_ALLOW_PRIVATE: "true",
        JWT_SECRET: "process-test-secret-0123456789",
      }
      const first = startApi(env)
      running.push(first.proc)
      const made = await fetch(`${await first.base}/telegram/notifications`, {
        method: "POST",
        headers: { authorization: `Bearer ${sender.key}`, "content-type": "application/json" },
        body: JSON.stringify({ username: "carol", text: "hello" }),
      })
      expect(made.status).toBe(202)
      await receiver.count(1) // the first attempt: 500, a retry is due in about 5 s
      // Killed once the attempt is recorded (killed before, the lease would hold it for 60 s).
      for (;;) {
        const [row] = await database.db.select().from(webhookMessages)
        if (row && row.leasedUntil === null) break
        await Bun.sleep(20)
      }
      first.proc.kill("SIGKILL")
      await first.proc.exited

      const second = startApi(env)
      running.push(second.proc)
      await second.base
      await receiver.count(2)
      const [a, b] = receiver.received
      expect(b?.headers["webhook-id"]).toBe(a?.headers["webhook-id"] ?? "missing")
      second.proc.kill("SIGTERM")
      expect(await second.proc.exited).toBe(0)
      expect(receiver.received).toHaveLength(2)
    } finally {
      receiver.stop()
      await database.close()
    }
  })
}
