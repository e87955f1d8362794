// `bun run bench` as a newcomer meets it: --help answers without starting a 15-minute run, and
// stopping a run (SIGTERM, as `timeout` sends; Ctrl-C is the same path) leaves no throwaway
// database behind — even while it is still being seeded.
import { expect, test } from "bun:test"
import postgres from "postgres"
import { ROOT } from "./helpers"

const run = async (args: string[], env: Record<string, string> = {}) => {
  const proc = Bun.spawn(["bun", "run", "--silent", "bench", ...args], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      BENCH_DATABASE_URL: "postgres://nobody@127.0.0.1:1/x",
      ...env,
    },
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

test("bun run bench --help prints its usage and starts nothing; an unknown option is an error", async () => {
  for (const flag of ["--help", "-h"]) {
    const help = await run([flag])
    expect(help).toMatchObject({ code: 0, stderr: "" })
    expect(help.stdout).toStartWith("Usage: bun run bench\n")
    expect(help.stdout).toContain("BENCH_DATABASE_URL")
  }
  const wrong = await run(["--bogus"])
  expect(wrong.code).toBe(1)
  expect(wrong.stderr).toContain("unknown option --bogus")
  expect(wrong.stderr).not.toContain("seeding")
})

const adminUrl = process.env.TEST_DATABASE_URL
test.if(Boolean(adminUrl))(
  "SIGTERM while the benchmark seeds its throwaway database: it stops and drops the database",
  async () => {
    const admin = postgres(adminUrl as string, { max: 1, onnotice: () => {} })
    const benchDatabases = async () =>
      (await admin`select datname from pg_database where datname like 'nps_bench%'`).map(
        (r) => r.datname as string,
      )
    try {
      const before = new Set(await benchDatabases())
      const proc = Bun.spawn(["bun", "run", "--silent", "bench"], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? "", BENCH_DATABASE_URL: adminUrl, BENCH_ONLY: "status" },
        stdout: "pipe",
        stderr: "pipe",
      })
      const stderr = new Response(proc.stderr).text()
      // Until its database exists (it is seeded for seconds after that): then stop it.
      let created: string | undefined
      for (let i = 0; i < 300 && !created && proc.exitCode === null; i++) {
        created = (await benchDatabases()).find((name) => !before.has(name))
        if (!created) await Bun.sleep(50)
      }
      expect(created).toBeDefined()
      proc.kill("SIGTERM")
      expect(await proc.exited).not.toBe(0)
      expect(await stderr).toContain("SIGTERM: stopping")
      expect(await benchDatabases()).not.toContain(created)
    } finally {
      await admin.end()
    }
  },
  60_000,
)
