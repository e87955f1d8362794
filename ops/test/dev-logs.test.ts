// `bun run dev` writes each service's log under .data/dev: owner-only (0700 / 0600), whatever
// the umask and whatever an earlier run left there.
import { expect, test } from "bun:test"
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { startChild } from "../../scripts/dev/child"

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8)

test("dev logs are owner-only: a world-readable log directory and log file left behind are made 0700 / 0600", async () => {
  const root = mkdtempSync(join(tmpdir(), "nps-dev-logs-"))
  try {
    const devDir = join(root, "dev")
    mkdirSync(devDir)
    chmodSync(devDir, 0o777)
    const logFile = join(devDir, "api.log")
    writeFileSync(logFile, "old\n")
    chmodSync(logFile, 0o666)
    const child = startChild({
      name: "api",
      argv: ["sh", "-c", 'echo \'{"msg":"hello"}\''],
      cwd: root,
      env: { PATH: process.env.PATH },
      logFile,
    })
    expect(await child.exited).toBe(0)
    expect([mode(devDir), mode(logFile)]).toEqual(["700", "600"])
    expect(readFileSync(logFile, "utf8")).toContain("hello")
    // A new directory, under any umask, is born owner-only.
    const fresh = join(root, "fresh", "dev", "bot.log")
    const other = startChild({ name: "bot", argv: ["true"], cwd: root, env: {}, logFile: fresh })
    await other.exited
    expect([mode(join(root, "fresh", "dev")), mode(fresh)]).toEqual(["700", "600"])
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})
