// Runs a command-line entry point as an operator does: a real process from the repository root,
// with only the environment given (empty values shadow a developer's .env, which Bun loads).
import { join } from "node:path"

export const ROOT = join(import.meta.dir, "..", "..")

export interface Ran {
  code: number
  stdout: string
  stderr: string
}

export async function run(
  argv: string[],
  env: Record<string, string>,
  options: { stdin?: string } = {},
): Promise<Ran> {
  const proc = Bun.spawn(argv, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      DATABASE_URL: "",
      PGLITE_DIR: "",
      LOG_LEVEL: "",
      ...env,
    },
    stdin: options.stdin === undefined ? "ignore" : new Blob([options.stdin]),
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
