// The admin CLI as operators run it: `bun run admin <command>`, one process per command.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createDb, migrate, notifications, telegramLinks, users } from "@nps/db"
import { eq } from "drizzle-orm"

// These tests start real processes and PGlite (seconds each on a busy machine).
setDefaultTimeout(30_000)

const ROOT = join(import.meta.dir, "..", "..")
const tmp = mkdtempSync(join(tmpdir(), "nps-admin-"))
const PGLITE_DIR = join(tmp, "pglite")

beforeAll(async () => {
  const { db, close } = await createDb({ pgliteDir: PGLITE_DIR })
  await migrate(db)
  await close()
})
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

async function admin(...args: string[]) {
  const proc = Bun.spawn(["bun", "run", "--silent", "admin", ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", PGLITE_DIR },
    stdout: "pipe",
    stderr: "pipe",
  })
  const [code, stdout, stderr] = await Promise.all([
    proc.exited,
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
  ])
  return { code, stdout, stderr }
}

test("create-user, create-key, revoke-key and deactivate-user print exactly one JSON object", async () => {
  const user = await admin(
    "create-user",
    "--username",
    "ops",
    "--password",
    "pw-123",
    "--role",
    "admin",
    "--json",
  )
  expect(user.code).toBe(0)
  const u = JSON.parse(user.stdout)
  expect(u).toEqual({ id: expect.any(String), username: "ops", role: "admin" })

  const key = await admin(
    "create-key",
    "--username",
    "ops",
    "--name",
    "bot",
    "--scopes",
    "telegram:service",
    "--expires-days",
    "30",
    "--json",
  )
  expect(key.code).toBe(0)
  const k = JSON.parse(key.stdout)
  expect(Object.keys(k).sort()).toEqual(["id", "key", "prefix", "scopes"])
  expect(k.key).toMatch(/^nps_[A-Za-z0-9_-]{43}$/)
  expect(k.scopes).toEqual(["telegram:service"])

  const revoked = await admin("revoke-key", "--id", k.id, "--json")
  expect(JSON.parse(revoked.stdout)).toEqual({ id: k.id, is_active: false })

  const gone = await admin("deactivate-user", "--username", "ops", "--json")
  expect(JSON.parse(gone.stdout)).toEqual({ id: u.id, is_active: false })
})

test("errors go to stderr with exit 1 and leave stdout empty", async () => {
  for (const args of [
    ["create-key", "--username", "nobody", "--name", "x", "--json"],
    ["create-key", "--username", "nobody", "--name", "x", "--scopes", "root:all", "--json"],
    ["revoke-key", "--id", "00000000-0000-0000-0000-000000000000", "--json"],
    ["create-user", "--username", "no-password", "--json"],
    ["frobnicate", "--json"],
  ]) {
    const res = await admin(...args)
    expect(res.code).toBe(1)
    expect(res.stdout).toBe("")
    expect(res.stderr).toMatch(/^admin: /)
  }
})

test("a password given on the command line never reaches an error message", async () => {
  await admin("create-user", "--username", "dup", "--password", "first-pass", "--json")
  const res = await admin(
    "create-user",
    "--username",
    "dup",
    "--password",
    "TopSecretPassword!",
    "--json",
  )
  expect(res.code).toBe(1)
  expect(res.stderr).toContain("already taken")
  expect(res.stderr + res.stdout).not.toContain("TopSecretPassword")
})

test("gen-key prints a fresh key without touching a database", async () => {
  const a = await admin("gen-key")
  const b = await admin("gen-key")
  expect(a.stdout.trim()).toMatch(/^nps_[A-Za-z0-9_-]{43}$/)
  expect(a.stdout).not.toBe(b.stdout)
})

test("notify sends to the user's reachable chats and prints the notification as POST answers it", async () => {
  await admin("create-user", "--username", "reader", "--password", "pw-123456", "--json")
  const database = await createDb({ pgliteDir: PGLITE_DIR })
  try {
    const [user] = await database.db.select().from(users).where(eq(users.username, "reader"))
    await database.db.insert(telegramLinks).values([
      { telegramChatId: 5_550_001, userId: user?.id as string },
      { telegramChatId: 5_550_002, userId: user?.id as string, blockedAt: new Date() },
    ])
  } finally {
    await database.close()
  }
  const text = "Maintenance tonight at 22:00 UTC.\nPlain *text*, sent as is."
  const sent = await admin("notify", "--username", "reader", "--text", text, "--json")
  expect(sent.stderr).toBe("")
  const n = JSON.parse(sent.stdout)
  expect(n).toEqual({
    id: expect.stringMatching(/^[0-9a-f-]{36}$/),
    status: "queued",
    deliveries: [{ telegram_chat_id: 5_550_001, status: "queued" }],
  })
  const human = await admin("notify", "--username", "reader", "--text", "again")
  expect(human.stdout).toContain("queued for 1 chat")

  const check = await createDb({ pgliteDir: PGLITE_DIR })
  try {
    const [row] = await check.db.select().from(notifications).where(eq(notifications.id, n.id))
    expect(row).toMatchObject({ text, status: "queued", createdBy: null })
  } finally {
    await check.close()
  }

  for (const args of [
    ["notify", "--username", "nobody", "--text", "hi"],
    ["notify", "--username", "reader", "--text", "   "],
    ["notify", "--username", "reader", "--text", "x".repeat(4097)],
    ["notify", "--username", "reader"],
  ]) {
    const res = await admin(...args, "--json")
    expect([res.code, res.stdout]).toEqual([1, ""])
    expect(res.stderr).toMatch(/^admin: /)
  }
})

test("admin commands work while a running API holds the PGlite directory (through its socket)", async () => {
  const api = await createDb({ pgliteDir: PGLITE_DIR, share: true })
  try {
    let woken = () => {}
    const heard = new Promise<void>((resolve) => (woken = resolve))
    await api.listen("nps_deliveries", () => woken())
    const user = await admin(
      "create-user",
      "--username",
      "live",
      "--password",
      "pw-123456",
      "--json",
    )
    expect(user.code).toBe(0)
    const [row] = await api.db.select().from(users).where(eq(users.username, "live"))
    await api.db
      .insert(telegramLinks)
      .values({ telegramChatId: 5_550_003, userId: row?.id as string })
    const sent = await admin("notify", "--username", "live", "--text", "while you run", "--json")
    expect(sent.stderr).toBe("")
    expect(JSON.parse(sent.stdout)).toMatchObject({ status: "queued" })
    // The API's waiting leases hear of it at once.
    await heard
  } finally {
    await api.close()
  }
})
