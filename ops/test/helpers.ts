// Reading the operations files the way their tools do: compose.yaml with compose's variable
// interpolation, .env files, the CI script's Bun version, the root package.json's scripts.
import { readFileSync } from "node:fs"
import { join } from "node:path"

export const ROOT = join(import.meta.dir, "..", "..")
export const read = (path: string) => readFileSync(join(ROOT, path), "utf8")

/** The Bun version CI installs (.ci/run BUN_VERSION=…). */
export function ciBunVersion(): string {
  const match = /^BUN_VERSION=([0-9.]+)$/m.exec(read(".ci/run"))
  if (!match?.[1]) throw new Error(".ci/run has no BUN_VERSION=")
  return match[1]
}

export const rootPackage = () =>
  JSON.parse(read("package.json")) as {
    packageManager: string
    workspaces: string[]
    scripts: Record<string, string>
    devDependencies: Record<string, string>
  }

/** A root script as the argv it runs (`bun api/src/main.ts` → ["bun", "api/src/main.ts"]). */
export function scriptArgv(name: string): string[] {
  const script = rootPackage().scripts[name]
  if (!script) throw new Error(`package.json has no script ${name}`)
  if (/[|&;<>()$`"']/.test(script)) throw new Error(`script ${name} is not a plain command`)
  return script.split(/\s+/)
}

/** KEY=VALUE lines as compose and Bun read a .env file (comments and blank lines skipped). */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split("\n")) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line)
    if (match?.[1]) out[match[1]] = (match[2] ?? "").trim()
  }
  return out
}

/** The shell lines .env.example gives for generating the bot's service key (`echo "nps_$(…)"`). */
export function keyGenerators(): string[] {
  return [...read(".env.example").matchAll(/^#.*?(echo "nps_\$\(.*\)")\s*$/gm)].map(
    (m) => m[1] as string,
  )
}

/** Runs one of those lines with sh, as an operator without Bun would. */
export function generateKeyLikeEnvExample(line = keyGenerators()[0]): string {
  if (!line) throw new Error(".env.example gives no key-generating line")
  const run = Bun.spawnSync(["sh", "-c", line], { stdout: "pipe", stderr: "pipe" })
  if (run.exitCode !== 0) throw new Error(`${line} failed: ${run.stderr.toString()}`)
  return run.stdout.toString().trim()
}

/** Names of the variables a .env file mentions, commented-out ones included. */
export function documentedVariables(text: string): Set<string> {
  const names = [...text.matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1] as string)
  return new Set(names)
}

export class InterpolationError extends Error {}

const VARIABLE =
  /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g

/**
 * Compose's interpolation: `${V}`, `${V:-default}` (unset or empty), `${V-default}` (unset),
 * `${V:?message}` / `${V?message}` (an error), `$V`, and `$$` for a literal `$`.
 */
export function interpolate(text: string, vars: Record<string, string | undefined>): string {
  return text.replace(
    VARIABLE,
    (match, braced?: string, op?: string, arg?: string, bare?: string) => {
      if (match === "$$") return "$"
      const name = (braced ?? bare) as string
      const value = vars[name]
      const missing = op?.startsWith(":") ? !value : value === undefined
      if (op?.endsWith("-") && missing) return arg ?? ""
      if (op?.endsWith("?") && missing)
        throw new InterpolationError(`required variable ${name} is missing a value: ${arg}`)
      return value ?? ""
    },
  )
}

export type ComposeService = {
  build?: { context: string; dockerfile: string }
  image?: string
  command?: string[]
  environment?: Record<string, string | number | boolean | null>
  depends_on?: Record<string, { condition: string }>
  ports?: string[]
  volumes?: string[]
  restart?: string
  init?: boolean
  healthcheck?: { test?: string[]; disable?: boolean }
  stop_grace_period?: string
  deploy?: { resources?: { limits?: { cpus?: string; memory?: string } } }
}

export type Compose = {
  name?: string
  services: Record<string, ComposeService>
  volumes?: Record<string, unknown>
}

export const readCompose = (): Compose => Bun.YAML.parse(read("compose.yaml")) as Compose

/** The environment compose gives a service's container, interpolated from `vars` (the .env). */
export function serviceEnvironment(
  service: ComposeService,
  vars: Record<string, string | undefined>,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(service.environment ?? {}).map(([name, value]) => [
      name,
      interpolate(String(value ?? ""), vars),
    ]),
  )
}

/** Every variable compose.yaml reads from the environment / .env. */
export function composeVariables(): Set<string> {
  const names = [...read("compose.yaml").matchAll(VARIABLE)]
    .map((m) => m[1] ?? m[4])
    .filter((name): name is string => Boolean(name))
  return new Set(names)
}

/** Compose durations like `45s`, `1m30s`, in seconds. */
export function durationSeconds(text: string): number {
  const units: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001 }
  let total = 0
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g))
    total += Number(amount) * (units[unit as string] ?? 0)
  return total
}

/** A port nobody listens on right now. */
export function freePort(): number {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() })
  const port = server.port as number
  server.stop(true)
  return port
}
