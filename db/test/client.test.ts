import { expect, setDefaultTimeout, test } from "bun:test"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createDb, DatabaseLockedError } from "../src/client"
import { migrate } from "../src/migrate"
import { users } from "../src/schema"

// These tests start real processes and PGlite (seconds each on a busy machine).
setDefaultTimeout(30_000)

const tempDir = () => mkdtempSync(join(tmpdir(), "nps-pglite-"))

test("a PGlite directory opened by one process cannot be opened again until it is closed", async () => {
  const root = tempDir()
  const dir = join(root, "pglite")
  try {
    const first = await createDb({ pgliteDir: dir })
    await migrate(first.db)
    await first.db.insert(users).values({ username: "kept", passwordHash: "x" })
    const second = await createDb({ pgliteDir: dir }).catch((e) => e)
    expect(second).toBeInstanceOf(DatabaseLockedError)
    expect(second.message).toContain("in use by process")
    await first.close()

    // Closed cleanly: the data is there on reopen.
    const reopened = await createDb({ pgliteDir: dir })
    expect((await reopened.db.select().from(users)).map((u) => u.username)).toEqual(["kept"])
    await reopened.close()
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})

test("a lock naming this process's pid, left by an earlier process with the same pid, is stale", async () => {
  const root = tempDir()
  const dir = join(root, "pglite")
  try {
    writeFileSync(`${dir}.lock`, String(process.pid)) // as after a container restart
    const database = await createDb({ pgliteDir: dir })
    await database.close()
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})

test("a stale lock left by a dead process is taken over", async () => {
  const root = tempDir()
  const dir = join(root, "pglite")
  try {
    const dead = Bun.spawnSync(["true"]).pid // finished: its pid is free
    writeFileSync(`${dir}.lock`, String(dead))
    const database = await createDb({ pgliteDir: dir })
    await database.close()
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})

test("a second process on the same directory fails fast with a clear message", async () => {
  const root = tempDir()
  const dir = join(root, "pglite")
  try {
    const holder = await createDb({ pgliteDir: dir })
    const proc = Bun.spawn(["bun", "api/src/db-cli.ts", "migrate"], {
      cwd: join(import.meta.dir, "..", ".."),
      env: { ...process.env, DATABASE_URL: "", PGLITE_DIR: dir },
      stdout: "pipe",
      stderr: "pipe",
    })
    expect(await proc.exited).toBe(1)
    const output =
      (await new Response(proc.stdout).text()) + (await new Response(proc.stderr).text())
    expect(output).toContain("in use by process")
    await holder.close()
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})
