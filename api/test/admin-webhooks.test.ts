// `bun run admin list-webhooks`: a sender's endpoints and their health, as operators see them
// (a real process on a PGlite directory), never the secret.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createDb, migrate, users, webhookEndpoints } from "@nps/db"
import { eq } from "drizzle-orm"
import { createUser } from "../src/modules/auth/service"
import { newSecret } from "../src/modules/webhooks/service"
import { run } from "./run"

setDefaultTimeout(60_000)
const tmp = mkdtempSync(join(tmpdir(), "nps-admin-webhooks-"))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

test("list-webhooks --username U shows each endpoint's health in text and one JSON object; --help touches nothing", async () => {
  const PGLITE_DIR = join(tmp, "pglite")
  const admin = (...args: string[]) =>
    run(["bun", "run", "--silent", "admin", ...args], { PGLITE_DIR })
  const help = await run(["bun", "run", "--silent", "admin", "list-webhooks", "--help"], {
    PGLITE_DIR: join(tmp, "never"),
  })
  expect(help).toMatchObject({ code: 0, stderr: "" })
  expect(help.stdout).toStartWith("Usage: bun run admin list-webhooks --username U")

  const secret = newSecret()
  const database = await createDb({ pgliteDir: PGLITE_DIR })
  try {
    await migrate(database.db)
    const sender = await createUser(database.db, {
      username: "billing",
      password: "a long enough password",
      role: "user",
    })
    await createUser(database.db, {
      username: "quiet",
      password: "a long enough password",
      role: "user",
    })
    const [row] = await database.db.select().from(users).where(eq(users.id, sender.id))
    await database.db.insert(webhookEndpoints).values({
      userId: row?.id as string,
      url: "https://hooks.example.com/nps",
      description: "billing events",
      secret,
      lastFailureAt: new Date("2026-05-01T10:00:00Z"),
      lastError: "HTTP 500",
    })
  } finally {
    await database.close()
  }

  const json = await admin("list-webhooks", "--username", "billing", "--json")
  expect(json.code).toBe(0)
  expect(JSON.parse(json.stdout)).toEqual({
    endpoints: [
      {
        id: expect.any(String),
        url: "https://hooks.example.com/nps",
        description: "billing events",
        created_at: expect.any(String),
        last_success_at: null,
        last_failure_at: "2026-05-01T10:00:00.000Z",
        last_error: "HTTP 500",
      },
    ],
  })
  const text = await admin("list-webhooks", "--username", "billing")
  expect(text.stdout).toContain("https://hooks.example.com/nps")
  expect(text.stdout).toContain("last failure: 2026-05-01 10:00:00 (HTTP 500)")
  for (const out of [json.stdout, text.stdout]) expect(out).not.toContain(secret.slice(6))
  expect((await admin("list-webhooks", "--username", "quiet")).stdout).toContain(
    "quiet has no webhook endpoints",
  )
  const unknown = await admin("list-webhooks", "--username", "nobody", "--json")
  expect([unknown.code, unknown.stdout]).toEqual([1, ""])
  expect(unknown.stderr).toContain("no user named nobody")
})
