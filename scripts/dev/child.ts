// A service run by `bun run dev` as a child process (`bun --hot …`): its JSON log lines go to a
// file, to a callback, and — readably — to the terminal when asked.
import { chmodSync, closeSync, fchmodSync, mkdirSync, openSync, writeSync } from "node:fs"
import { dirname } from "node:path"

export type LogRecord = Record<string, unknown> & { level?: string; msg?: string }

export interface ChildOptions {
  name: string
  argv: string[]
  cwd: string
  env: Record<string, string | undefined>
  logFile: string
  /** Every log line, parsed when it is JSON. */
  onLine?: (record: LogRecord | undefined, line: string) => void
}

export interface Child {
  name: string
  proc: Bun.Subprocess<"ignore", "pipe", "pipe">
  exited: Promise<number>
  /** The last lines, for error messages. */
  tail(): string[]
  /** Resolves with the first record `matches` accepts; rejects if the process exits first. */
  waitFor(matches: (record: LogRecord) => boolean, timeoutMs: number): Promise<LogRecord>
  stop(signal?: NodeJS.Signals): void
}

export function startChild(options: ChildOptions): Child {
  // Logs may name users and chats: owner-only (0700 directory, 0600 file), whatever the umask.
  mkdirSync(dirname(options.logFile), { recursive: true, mode: 0o700 })
  chmodSync(dirname(options.logFile), 0o700)
  const fd = openSync(options.logFile, "w", 0o600)
  fchmodSync(fd, 0o600) // a log left by an earlier run keeps its old mode otherwise
  const proc = Bun.spawn(options.argv, {
    cwd: options.cwd,
    env: options.env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  })
  const tail: string[] = []
  const waiters = new Set<(record: LogRecord) => void>()

  const onLine = (line: string) => {
    writeSync(fd, `${line}\n`)
    tail.push(line)
    if (tail.length > 20) tail.shift()
    let record: LogRecord | undefined
    try {
      const parsed: unknown = JSON.parse(line)
      if (parsed && typeof parsed === "object") record = parsed as LogRecord
    } catch {}
    if (record) for (const waiter of [...waiters]) waiter(record)
    options.onLine?.(record, line)
  }
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder()
    let buffer = ""
    for await (const chunk of stream) {
      buffer += decoder.decode(chunk, { stream: true })
      let newline = buffer.indexOf("\n")
      while (newline >= 0) {
        const line = buffer.slice(0, newline).trimEnd()
        buffer = buffer.slice(newline + 1)
        if (line) onLine(line)
        newline = buffer.indexOf("\n")
      }
    }
    if (buffer.trim()) onLine(buffer.trim())
  }
  const pumped = Promise.all([pump(proc.stdout), pump(proc.stderr)])
  const exited = proc.exited.then(async (code) => {
    await pumped
    closeSync(fd)
    return code
  })

  return {
    name: options.name,
    proc,
    exited,
    tail: () => [...tail],
    waitFor(matches, timeoutMs) {
      return new Promise((resolve, reject) => {
        const done = (error?: Error, record?: LogRecord) => {
          clearTimeout(timer)
          waiters.delete(waiter)
          if (error) reject(error)
          else resolve(record as LogRecord)
        }
        const waiter = (record: LogRecord) => {
          if (matches(record)) done(undefined, record)
        }
        const timer = setTimeout(
          () => done(new Error(`${options.name}: not ready within ${timeoutMs / 1000} s`)),
          timeoutMs,
        )
        waiters.add(waiter)
        void proc.exited.then((code) => done(new Error(`${options.name} exited with code ${code}`)))
      })
    },
    stop(signal = "SIGTERM") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal)
    },
  }
}

const LEVEL_COLOURS: Record<string, string> = {
  debug: "\x1b[2m",
  info: "\x1b[36m",
  warn: "\x1b[33m",
  error: "\x1b[31m",
}

/** One log record as a short terminal line: `12:00:01 api  info  api listening url=…`. */
export function formatRecord(name: string, record: LogRecord, colour: boolean): string {
  const { time, level = "info", msg = "", service: _service, ...fields } = record
  const clock = typeof time === "string" ? time.slice(11, 19) : ""
  const extra = Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ")
  const paint = (code: string | undefined, text: string) =>
    colour && code ? `${code}${text}\x1b[0m` : text
  return `${paint("\x1b[2m", clock)} ${name.padEnd(3)} ${paint(LEVEL_COLOURS[level], level.padEnd(5))} ${msg}${extra ? ` ${paint("\x1b[2m", extra)}` : ""}`
}
