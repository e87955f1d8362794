// PGlite's directory holds password, key and username data: the directory and everything in it
// are the owner's only (0700 / 0600), whatever the umask, while open and after.
import { expect, setDefaultTimeout, test } from "bun:test"
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

setDefaultTimeout(60_000)

/** Every entry under `dir` (itself included) whose mode is not owner-only, as "mode path". */
function loose(dir: string): string[] {
  const found: string[] = []
  const check = (path: string) => {
    const stat = statSync(path)
    const mode = stat.mode & 0o777
    if (mode !== (stat.isDirectory() ? 0o700 : 0o600)) found.push(`${mode.toString(8)} ${path}`)
    if (stat.isDirectory()) for (const name of readdirSync(path)) check(join(path, name))
  }
  check(dir)
  return found
}

const CLIENT = join(import.meta.dir, "..", "src", "client.ts")
const MIGRATE = join(import.meta.dir, "..", "src", "migrate.ts")

// Opens the directory in a process of its own under umask 000 (the worst case: nothing masked),
// migrates and writes, reports what is loose while open, then closes.
const script = (dir: string) => `
  import { createDb } from ${JSON.stringify(CLIENT)}
  import { migrate } from ${JSON.stringify(MIGRATE)}
  import { sql } from "drizzle-orm"
  import { readdirSync, statSync } from "node:fs"
  import { join } from "node:path"
  const database = await createDb({ pgliteDir: ${JSON.stringify(dir)}, share: true })
  await migrate(database.db)
  await database.db.execute(sql\`insert into users (id, username, password_hash, role) values ('u1', 'alice', 'h', 'user') on conflict do nothing\`)
  console.log(JSON.stringify(${loose.toString()}(${JSON.stringify(dir)})))
  await database.close()`

async function openUnderUmask000(dir: string): Promise<string[]> {
  const proc = Bun.spawn(
    ["sh", "-c", `umask 000 && exec bun -e '${script(dir).replaceAll("'", "'\\''")}'`],
    {
      cwd: join(import.meta.dir, ".."),
      stdout: "pipe",
      stderr: "pipe",
    },
  )
  const [out, err, code] = [
    await new Response(proc.stdout).text(),
    await new Response(proc.stderr).text(),
    await proc.exited,
  ]
  if (code !== 0) throw new Error(`child failed (${code}): ${err}`)
  return JSON.parse(out.trim().split("\n").at(-1) ?? "[]")
}

test("under umask 000 a new PGlite directory is 0700 and every file 0600, open and closed; an old loose one is fixed", async () => {
  const root = mkdtempSync(join(tmpdir(), "nps-owner-"))
  try {
    const dir = join(root, "pglite")
    expect(await openUnderUmask000(dir)).toEqual([])
    expect(loose(dir)).toEqual([])
    // Left world-readable by an older version: made private when opened again.
    chmodSync(dir, 0o755)
    writeFileSync(join(dir, "left-behind"), "x", { mode: 0o666 })
    chmodSync(join(dir, "left-behind"), 0o666)
    expect(await openUnderUmask000(dir)).toEqual([])
    expect(loose(dir)).toEqual([])
    expect(statSync(`${dir}.lock`, { throwIfNoEntry: false })).toBeUndefined()
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})
