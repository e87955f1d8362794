// Embedded Postgres's files hold password hashes, usernames and key hashes: readable and writable
// by their owner only (0700 directories, 0600 files), whatever the umask. PGlite writes the files
// of a new database 0666 (it sets the modes its in-memory image had), and a umask cannot take
// away what an explicit chmod sets.
import { chmodSync, lstatSync, mkdirSync, readdirSync } from "node:fs"
import { join } from "node:path"

const OWNER_DIR_MODE = 0o700
export const OWNER_FILE_MODE = 0o600

/** Makes `dir` (created if missing, with any missing parents) owner-only. */
function ownerOnlyDirectory(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: OWNER_DIR_MODE })
  chmodSync(dir, OWNER_DIR_MODE)
}

/**
 * Makes `dir` and everything in it owner-only. The directory first: from then on nobody else can
 * even reach what is inside, so files created later with a looser mode are still private.
 */
export function restrictToOwner(dir: string): void {
  ownerOnlyDirectory(dir)
  const walk = (path: string) => {
    for (const name of readdirSync(path)) {
      const entry = join(path, name)
      const stat = lstatSync(entry)
      if (stat.isSymbolicLink()) continue // its target's mode is not ours to change
      if (stat.isDirectory()) {
        chmodSync(entry, OWNER_DIR_MODE)
        walk(entry)
      } else if ((stat.mode & 0o777) !== OWNER_FILE_MODE) chmodSync(entry, OWNER_FILE_MODE)
    }
  }
  walk(dir)
}
