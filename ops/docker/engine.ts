// The Docker engine as test:docker uses it: commands run with only what should reach the engine,
// and why an engine cannot be used here (then the docker tests say so and pass — unless
// TEST_DOCKER=required, where they fail).
import { test } from "bun:test"
import { ROOT } from "../test/helpers"

export async function sh(argv: string[], options: { stdin?: string; timeoutMs?: number } = {}) {
  // Only what reaches the engine: the shell's variables would override the test's env file (and
  // Bun has loaded a developer's .env into process.env), COMPOSE_* would redirect compose.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => ["PATH", "HOME"].includes(name) || /^(DOCKER|BUILDKIT)_/.test(name),
    ),
  )
  const proc = Bun.spawn(argv, {
    cwd: ROOT,
    env,
    stdin: options.stdin === undefined ? "ignore" : new Blob([options.stdin]),
    stdout: "pipe",
    stderr: "pipe",
  })
  const timer = setTimeout(() => proc.kill("SIGKILL"), options.timeoutMs ?? 60_000)
  const [code, stdout, stderr] = await Promise.all([
    proc.exited,
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
  ])
  clearTimeout(timer)
  return { code, stdout, stderr }
}

/** Why the engine cannot be used here, or undefined when it answers with Compose v2. */
export async function engineMissing(): Promise<string | undefined> {
  try {
    const info = await sh(["docker", "info", "--format", "{{.ServerVersion}}"], {
      timeoutMs: 15_000,
    })
    if (info.code !== 0) return `no Docker engine answers (${info.stderr.trim().split("\n")[0]})`
    const compose = await sh(["docker", "compose", "version", "--short"], { timeoutMs: 15_000 })
    if (compose.code !== 0 || !/^v?2\./.test(compose.stdout.trim()))
      return "Docker Compose v2 is not installed"
  } catch {
    return "the docker command is not installed"
  }
  return undefined
}

/**
 * No engine: the docker tests say so and pass, unless TEST_DOCKER=required (CI sets it when
 * `docker info` works), where they fail — a machine that has an engine never skips silently.
 */
export function withoutEngine(missing: string, label: string, env = process.env) {
  if (env.TEST_DOCKER === "required")
    test(`${label}: a Docker engine is required (TEST_DOCKER=required)`, () => {
      throw new Error(`TEST_DOCKER=required, but ${missing}`)
    })
  else console.log(`${label} skipped: ${missing} (TEST_DOCKER=required makes this a failure)`)
}
