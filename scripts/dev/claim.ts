// One `bun run dev` per data directory. A second one (another PORT, same data) would otherwise
// reopen the first one's log files for writing — cutting them to zero under the running stack —
// and then fail on the PGlite lock with a stack trace. The claim is a pid file beside the logs.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs"
import { dirname } from "node:path"

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as { code?: unknown }).code === "EPERM"
  }
}

/** Claims `file` for this process: the pid of the live process holding it instead, if any. */
export function claimDevDir(file: string): { release(): void } | { heldBy: number } {
  mkdirSync(dirname(file), { recursive: true })
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, "wx", 0o600)
      writeSync(fd, `${process.pid}\n`)
      closeSync(fd)
      return { release: () => rmSync(file, { force: true }) }
    } catch (error) {
      if ((error as { code?: unknown }).code !== "EEXIST") throw error
      const pid = Number.parseInt(readFileSync(file, "utf8"), 10)
      if (Number.isInteger(pid) && pid !== process.pid && alive(pid)) return { heldBy: pid }
      rmSync(file, { force: true }) // left by a run that was killed
    }
  }
  throw new Error(`cannot claim ${file}`)
}
