// `bun run test:docker` without a Docker engine: skipped (and says so), unless
// TEST_DOCKER=required — then it fails, so a machine that has an engine cannot silently skip.
import { expect, test } from "bun:test"
import { mkdtempSync, rmSync, symlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ROOT } from "./helpers"

/** Runs the docker test files with a PATH holding only bun (so no `docker` command). */
async function testDockerWithoutEngine(extra: Record<string, string>) {
  const bin = mkdtempSync(join(tmpdir(), "nps-no-docker-"))
  try {
    symlinkSync(process.execPath, join(bin, "bun"))
    const proc = Bun.spawn(
      ["bun", "test", "./ops/docker/compose.docker.ts", "./ops/docker/replicas.docker.ts"],
      {
        cwd: ROOT,
        env: { PATH: bin, HOME: process.env.HOME, ...extra },
        stdout: "pipe",
        stderr: "pipe",
      },
    )
    const [code, out, err] = await Promise.all([
      proc.exited,
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
    ])
    return { code, output: out + err }
  } finally {
    rmSync(bin, { recursive: true, force: true })
  }
}

test("test:docker without an engine: skipped with the reason; with TEST_DOCKER=required it fails", async () => {
  const skipped = await testDockerWithoutEngine({})
  expect(skipped.code).toBe(0)
  expect(skipped.output).toContain("test:docker skipped: the docker command is not installed")
  const required = await testDockerWithoutEngine({ TEST_DOCKER: "required" })
  expect(required.code).not.toBe(0)
  expect(required.output).toContain("TEST_DOCKER=required, but the docker command is not installed")
}, 60_000)
