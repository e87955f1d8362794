// One JSON object per line, secrets scrubbed from the final text so nothing slips through a
// nested error message or URL. Dependency-free, shared by the API, the bot and the CLIs.

export type Level = "debug" | "info" | "warn" | "error"
export type Fields = Record<string, unknown>

export interface Logger {
  debug(msg: string, fields?: Fields): void
  info(msg: string, fields?: Fields): void
  warn(msg: string, fields?: Fields): void
  error(msg: string, fields?: Fields): void
  child(fields: Fields): Logger
}

export interface LoggerOptions {
  service: string
  level?: string | undefined
  /** Receives each finished line; defaults to stdout (stderr for warn/error). */
  write?: (line: string, level: Level) => void
  /** Exact values never to print (bot token, service key, JWT secret). */
  secrets?: (string | undefined)[]
}

const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 }

// Shapes of every secret this product handles, wherever they hide in a string.
const PATTERNS: [RegExp, string][] = [
  [/nps_[A-Za-z0-9_-]{4,}/g, "nps_[REDACTED]"],
  [/npslink_[A-Za-z0-9_-]{4,}/g, "npslink_[REDACTED]"],
  [/(?<![0-9])\d{5,}:[A-Za-z0-9_-]{30,}/g, "[REDACTED_BOT_TOKEN]"],
  [/eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, "[REDACTED_JWT]"],
]
const SECRET_KEYS = /pass(word)?|secret|token|api_?key|authorization|cookie/i

/** What of a database or Redis URL must never be logged: the URL and its password, raw and decoded. */
export function urlSecrets(url: string | undefined): string[] {
  if (!url) return []
  if (!URL.canParse(url)) return [url]
  const { password } = new URL(url)
  let decoded = password
  try {
    decoded = decodeURIComponent(password)
  } catch {
    // A stray "%": the raw form is all there is (the config check then names the variable).
  }
  return [...new Set([url, password, decoded])].filter(Boolean)
}

export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text
  for (const secret of secrets) if (secret.length >= 6) out = out.replaceAll(secret, "[REDACTED]")
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement)
  return out
}

/** Errors become plain data: never serialise an error object wholesale (it may carry request params). */
export function describeError(error: unknown): Fields {
  if (!(error instanceof Error)) return { message: String(error) }
  const code = (error as { code?: unknown }).code
  return {
    name: error.name,
    message: error.message,
    ...(code !== undefined && { code: String(code) }),
    stack: error.stack,
    ...(error.cause !== undefined && { cause: describeError(error.cause) }),
  }
}

function replacer(key: string, value: unknown): unknown {
  if (value instanceof Error) return describeError(value)
  if (typeof value === "bigint") return value.toString()
  if (key && SECRET_KEYS.test(key) && typeof value === "string") return "[REDACTED]"
  return value
}

export function createLogger(options: LoggerOptions): Logger {
  const threshold = ORDER[(options.level?.toLowerCase() as Level) ?? "info"] ?? ORDER.info
  const secrets = (options.secrets ?? []).filter((s): s is string => typeof s === "string")
  const write =
    options.write ??
    ((line: string, level: Level) =>
      (level === "warn" || level === "error" ? process.stderr : process.stdout).write(`${line}\n`))

  const make = (bound: Fields): Logger => {
    const emit = (level: Level) => (msg: string, fields?: Fields) => {
      if (ORDER[level] < threshold) return
      const record = {
        time: new Date().toISOString(),
        level,
        service: options.service,
        msg,
        ...bound,
        ...fields,
      }
      let line: string
      try {
        line = JSON.stringify(record, replacer)
      } catch {
        line = JSON.stringify({ time: record.time, level, service: options.service, msg })
      }
      write(redact(line, secrets), level)
    }
    return {
      debug: emit("debug"),
      info: emit("info"),
      warn: emit("warn"),
      error: emit("error"),
      child: (fields) => make({ ...bound, ...fields }),
    }
  }
  return make({})
}
