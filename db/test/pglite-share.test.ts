// A PGlite directory served by the process holding it (the API), to admin commands and
// db:migrate in other processes: through the socket, without interleaving transactions.
import { expect, setDefaultTimeout, test } from "bun:test"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { eq, sql } from "drizzle-orm"
import { createDb, DatabaseLockedError } from "../src/client"
import { migrate } from "../src/migrate"
import { users } from "../src/schema"

setDefaultTimeout(30_000)

const ROOT = join(import.meta.dir, "..", "..")

test("another process migrates and writes through the owner's socket; its NOTIFY reaches the owner", async () => {
  const root = mkdtempSync(join(tmpdir(), "nps-share-"))
  const dir = join(root, "pglite")
  try {
    const owner = await createDb({ pgliteDir: dir, share: true })
    expect(existsSync(`${dir}.sock`)).toBe(true)
    let woken = () => {}
    const notified = new Promise<void>((resolve) => (woken = resolve))
    await owner.listen("nps_share_test", () => woken())

    // db:migrate, as a process of its own, while the owner holds the directory.
    const migrating = Bun.spawn(["bun", "api/src/db-cli.ts", "migrate"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", PGLITE_DIR: dir },
      stdout: "pipe",
      stderr: "pipe",
    })
    expect(await migrating.exited).toBe(0)
    expect(await new Response(migrating.stdout).text()).toContain("migrations applied")
    expect(await migrate(owner.db)).toEqual([])

    // A second would-be owner (another API on the same directory) is refused, not a client.
    const rival = await createDb({ pgliteDir: dir, share: true }).catch((e) => e)
    expect(rival).toBeInstanceOf(DatabaseLockedError)

    // A second opener in this process goes through the socket too.
    const other = await createDb({ pgliteDir: dir })
    await other.db.transaction(async (tx) => {
      await tx.insert(users).values({ username: "through-the-socket", passwordHash: "x" })
      // The owner's own query waits for the other's transaction instead of running inside it.
      const owners = owner.db.select().from(users)
      await tx.execute(sql`select pg_notify('nps_share_test', '')`)
      const seen = await Promise.race([owners, Bun.sleep(100).then(() => "waiting")])
      expect(seen).toBe("waiting")
    })
    await notified
    expect((await owner.db.select().from(users)).map((u) => u.username)).toEqual([
      "through-the-socket",
    ])

    // A client gone mid-transaction is rolled back; the owner carries on.
    await other.db.execute(sql`begin`)
    await other.db.execute(
      sql`insert into users (username, password_hash) values ('abandoned', 'x')`,
    )
    await other.close()
    await owner.db.insert(users).values({ username: "owner", passwordHash: "x" })
    expect(await owner.db.select().from(users).where(eq(users.username, "abandoned"))).toEqual([])

    await owner.close()
    expect(existsSync(`${dir}.sock`)).toBe(false)
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})
