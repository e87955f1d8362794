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

// Stale locks: a process that died without closing, and an earlier process that had our pid
// (routine in containers, where pids repeat).
const staleOwners: [string, () => number][] = [
  ["a dead process", () => Bun.spawnSync(["true"]).pid],
  ["an earlier process with this process's pid", () => process.pid],
]
for (const [owner, pid] of staleOwners) {
  test(`a stale lock left by ${owner} is taken over`, async () => {
    const root = tempDir()
    const dir = join(root, "pglite")
    try {
      writeFileSync(`${dir}.lock`, String(pid()))
      const database = await createDb({ pgliteDir: dir })
      await database.close()
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })
}

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
