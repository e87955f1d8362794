// The admin CLI as operators run it: `bun run admin <command>`, one process per command.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createDb, migrate } from "@nps/db"

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
