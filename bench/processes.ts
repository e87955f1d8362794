// Starting the processes under test exactly as production does, and reading their memory.
import { readFileSync } from "node:fs"
import { join } from "node:path"
import type { LoadResult, LoadSpec } from "./load"

export const ROOT = join(import.meta.dir, "..")

const status = (pid: number) => readFileSync(`/proc/${pid}/status`, "utf8")
const kbField = (pid: number, field: string) =>
  Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status(pid))?.[1] ?? 0)
/** Resident memory now, MB. */
export const rssMb = (pid: number) => kbField(pid, "VmRSS") / 1024
/** Peak resident memory since the process started, MB. */
export const peakRssMb = (pid: number) => kbField(pid, "VmHWM") / 1024

const TICK_MS = 1000 / 100 // USER_HZ: 100 on Linux
/** CPU time (user + system) a process has used so far, ms. */
export function cpuMs(pid: number): number {
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS
  } catch {
    return 0 // gone
  }
}

/** A port nobody listens on right now (the API takes its port from PORT, as in production). */
export function freePort(): number {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } })
  const { port } = probe
  probe.stop(true)
  return port
}

/** A minimal environment: what a container would have, nothing inherited from this shell. */
export const baseEnv = () => ({ PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" })

/** With BENCH_CPU_PROF=<dir>, servers run under Bun's sampling profiler and write there on exit. */
const profiler = (name: string) => {
  const dir = process.env.BENCH_CPU_PROF
  return dir
    ? [
        "--cpu-prof",
        "--cpu-prof-md",
        `--cpu-prof-dir=${dir}`,
        `--cpu-prof-name=${name}-${Date.now()}`,
      ]
    : []
}

export interface Server {
  pid: number
  origin: string
  /** From spawn to the first healthy answer. */
  startupMs: number
  stop(): Promise<void>
}

async function stopProcess(proc: Bun.Subprocess) {
  if (proc.exitCode !== null) return
  proc.kill("SIGTERM")
  const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000)
  await proc.exited
  clearTimeout(timer)
}

async function waitUntil(ready: () => Promise<boolean>, proc: Bun.Subprocess, what: string) {
  const deadline = performance.now() + 30_000
  while (performance.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${what} exited with ${proc.exitCode} at start`)
    if (await ready().catch(() => false)) return
    await Bun.sleep(5)
  }
  throw new Error(`${what} not ready within 30 s`)
}

export interface ApiOptions {
  databaseUrl: string
  serviceKey: string
  /** Where its stdout (one JSON line per request at info) goes, as a container's log would. */
  logFile: string
}

/** `bun api/src/main.ts` with the production image's settings. */
export async function startApi({ databaseUrl, serviceKey, logFile }: ApiOptions): Promise<Server> {
  const port = freePort()
  const started = performance.now()
  const proc = Bun.spawn(["bun", ...profiler("api"), "api/src/main.ts"], {
    cwd: ROOT,
    env: {
      ...baseEnv(),
      NODE_ENV: "production",
      DATABASE_URL: databaseUrl,
      HOST: "127.0.0.1",
      PORT: String(port),
      JWT_SECRET: "bench-jwt-secret-0123456789abcdef",
      TELEGRAM_BOT_SERVICE_KEY: serviceKey,
      LOG_LEVEL: "info",
    },
    stdout: Bun.file(logFile),
    stderr: "inherit",
  })
  const origin = `http://127.0.0.1:${port}`
  await waitUntil(async () => (await fetch(`${origin}/api/health`)).ok, proc, "the API")
  return {
    pid: proc.pid,
    origin,
    startupMs: performance.now() - started,
    stop: () => stopProcess(proc),
  }
}

/** The bare Bun.serve + postgres.js reference (bench/reference.ts). */
export async function startReference(databaseUrl: string): Promise<Server> {
  const started = performance.now()
  const proc = Bun.spawn(["bun", ...profiler("bare"), "bench/reference.ts", databaseUrl], {
    cwd: ROOT,
    env: { ...baseEnv(), NODE_ENV: "production" },
    stdout: "pipe",
    stderr: "inherit",
  })
  const reader = proc.stdout.getReader()
  const { value } = await reader.read()
  reader.releaseLock()
  const { port } = JSON.parse(new TextDecoder().decode(value)) as { port: number }
  return {
    pid: proc.pid,
    origin: `http://127.0.0.1:${port}`,
    startupMs: performance.now() - started,
    stop: () => stopProcess(proc),
  }
}

/** Runs autocannon in its own process (bench/load.ts) against one server. */
export async function runLoad(spec: LoadSpec, specFile: string): Promise<LoadResult> {
  await Bun.write(specFile, JSON.stringify(spec))
  const proc = Bun.spawn(["bun", "bench/load.ts", specFile], {
    cwd: ROOT,
    env: baseEnv(),
    stdout: "pipe",
    stderr: "inherit",
  })
  const out = await new Response(proc.stdout).text()
  if ((await proc.exited) !== 0) throw new Error("load generator failed")
  return JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as LoadResult
}
