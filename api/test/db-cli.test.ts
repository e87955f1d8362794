// `bun run db:migrate` / `bun run db:rollback` as real processes: --help and every mistake in the
// command line are answered without opening the database, so a schema is never touched by them.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { appliedMigrations, createDb, type DbTarget, readMigrations, rollback } from "@nps/db"
import { drivers, openTestDatabase } from "./helpers"
import { run } from "./run"

// Real processes and PGlite: seconds each on a busy machine.
setDefaultTimeout(30_000)

const tmp = mkdtempSync(join(tmpdir(), "nps-db-cli-"))
const ALL = readMigrations().map((m) => m.tag)
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

test("db:migrate --help prints its usage and creates no database", async () => {
  const fresh = join(tmp, "never-created")
  const res = await run(["bun", "run", "--silent", "db:migrate", "--help"], { PGLITE_DIR: fresh })
  expect(res).toMatchObject({ code: 0, stderr: "" })
  expect(res.stdout).toStartWith("Usage: bun run db:migrate")
  expect(existsSync(fresh)).toBe(false)
})

for (const driver of drivers()) {
  describe(`[${driver}]`, () => {
    // PGlite in a directory of its own; Postgres: a throwaway database, migrated by the CLI below.
    let env: Record<string, string>
    let target: DbTarget
    let close = async () => {}
    beforeAll(async () => {
      if (driver === "pglite") {
        env = { PGLITE_DIR: join(tmp, "pglite") }
        target = { pgliteDir: env.PGLITE_DIR as string }
      } else {
        const database = await openTestDatabase("postgres")
        close = database.close
        const { db } = database
        while (await rollback(db)) {}
        env = { DATABASE_URL: database.url as string, PGLITE_DIR: join(tmp, "unused") }
        target = { url: database.url as string, max: 1 }
      }
      const migrated = await script("db:migrate")
      expect(migrated.code).toBe(0)
      expect(await applied()).toEqual(ALL)
    })
    afterAll(() => close())

    const script = (name: string, ...args: string[]) =>
      run(["bun", "run", "--silent", name, ...args], env)

    async function applied() {
      const database = await createDb(target)
      try {
        return await appliedMigrations(database.db)
      } finally {
        await database.close()
      }
    }

    test("db:rollback --help / -h prints its usage and leaves the schema as it was", async () => {
      for (const flag of ["--help", "-h"]) {
        const res = await script("db:rollback", flag)
        expect(res).toMatchObject({ code: 0, stderr: "" })
        expect(res.stdout).toStartWith("Usage: bun run db:rollback")
        expect(res.stdout).toContain("Undo the latest applied migration")
      }
      expect(await applied()).toEqual(ALL)
    })

    test("an unknown option, a stray argument or a misspelt command is an error that changes nothing", async () => {
      for (const [args, message] of [
        [["db:rollback", "--force"], "unknown option --force"],
        [["db:rollback", "--hepl"], "unknown option --hepl (did you mean --help?)"],
        [["db:rollback", "all"], "unexpected argument"],
        [["db:rollback", "--help=yes"], "--help takes no value"],
        [["db:migrate", "-x"], "unknown option -x"],
      ] as const) {
        const res = await script(args[0], args[1])
        expect({ args, code: res.code, stdout: res.stdout }).toEqual({ args, code: 1, stdout: "" })
        expect(res.stderr).toContain(message)
        expect(res.stderr).toContain(`Run bun run ${args[0]} --help for usage.`)
      }
      const typo = await run(["bun", "api/src/db-cli.ts", "rollbak"], env)
      expect(typo.code).toBe(1)
      expect(typo.stderr).toContain("unknown command rollbak (did you mean rollback?)")
      const none = await run(["bun", "api/src/db-cli.ts"], env)
      expect(none.code).toBe(1)
      expect(none.stderr).toContain("Usage: bun api/src/db-cli.ts <command>")
      expect(await applied()).toEqual(ALL)
    })

    test("db:rollback undoes exactly the latest migration, and db:migrate applies it again", async () => {
      const back = await script("db:rollback")
      expect(back.code).toBe(0)
      expect(JSON.parse(back.stdout)).toMatchObject({
        msg: "migration rolled back",
        rolled_back: ALL.at(-1),
      })
      expect(await applied()).toEqual(ALL.slice(0, -1))
      const forward = await script("db:migrate")
      expect(JSON.parse(forward.stdout)).toMatchObject({
        msg: "migrations applied",
        applied: ALL.slice(-1),
      })
      expect(await applied()).toEqual(ALL)
    })
  })
}
