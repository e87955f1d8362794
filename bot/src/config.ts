// Bot configuration: one TypeBox schema keyed by the environment variable names of CONTRACT.md,
// parsed once in main.ts and passed down. Tests call loadConfig({ … }) directly.
import { type Static, Type } from "@sinclair/typebox"
import { Value } from "@sinclair/typebox/value"

const LOG_LEVELS = ["debug", "info", "warn", "error"] as const

const HttpUrl = (fallback: string) =>
  Type.String({ default: fallback, pattern: "^https?://[^\\s]+$" })

export const EnvSchema = Type.Object({
  // The token sits in every Bot API URL path, so only URL-path-safe characters are accepted.
  NPS_BOT_TOKEN: Type.String({ minLength: 1, maxLength: 200, pattern: "^[A-Za-z0-9:_-]+$" }),
  TELEGRAM_BOT_API_URL: HttpUrl("http://api:8000/api"),
  // The same shape the API accepts for this variable (api/src/config.ts API_KEY_PATTERN).
  TELEGRAM_BOT_SERVICE_KEY: Type.Optional(Type.String({ pattern: "^nps_[A-Za-z0-9_-]{20,100}$" })),
  TELEGRAM_RATE_LIMIT: Type.Integer({ minimum: 1, maximum: 1000, default: 20 }),
  TELEGRAM_API_ROOT: HttpUrl("https://api.telegram.org"),
  LOG_LEVEL: Type.Union(
    LOG_LEVELS.map((level) => Type.Literal(level)),
    { default: "info" },
  ),
  BOT_HEARTBEAT_FILE: Type.Optional(Type.String({ minLength: 1 })),
  METRICS_PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65_535 })),
})
export type Env = Static<typeof EnvSchema>

export interface BotConfig {
  token: string
  /** NPS API base, e.g. http://api:8000/api (no trailing slash). */
  apiUrl: string
  serviceKey: string | undefined
  /** Messages per minute per chat. */
  rateLimit: number
  /** Bot API server root; requests go to `${telegramApiRoot}/bot${token}/${method}`. */
  telegramApiRoot: string
  logLevel: (typeof LOG_LEVELS)[number]
  heartbeatFile: string | undefined
  /** Where GET /metrics is served; undefined: no metrics server (0: any free port). */
  metricsPort: number | undefined
}

export interface ConfigIssue {
  variable: string
  message: string
}

export class ConfigError extends Error {
  override name = "ConfigError"
  constructor(readonly issues: ConfigIssue[]) {
    super(issues.map((issue) => issue.message).join("; "))
  }
}

export const TOKEN_MISSING = "NPS_BOT_TOKEN not set — cannot start bot"

// What each variable must look like, phrased for operators. Never echoes the value: it may be a secret.
const REQUIREMENTS: Record<keyof Env, string> = {
  NPS_BOT_TOKEN: "NPS_BOT_TOKEN is invalid: expected a Telegram bot token like 123456:ABC-def",
  TELEGRAM_BOT_API_URL: "TELEGRAM_BOT_API_URL is invalid: expected an http(s) URL",
  TELEGRAM_BOT_SERVICE_KEY:
    "TELEGRAM_BOT_SERVICE_KEY is invalid: expected an NPS API key (nps_ followed by URL-safe base64)",
  TELEGRAM_RATE_LIMIT: "TELEGRAM_RATE_LIMIT is invalid: expected a whole number from 1 to 1000",
  TELEGRAM_API_ROOT: "TELEGRAM_API_ROOT is invalid: expected an http(s) URL",
  LOG_LEVEL: `LOG_LEVEL is invalid: expected one of ${LOG_LEVELS.join(", ")}`,
  BOT_HEARTBEAT_FILE: "BOT_HEARTBEAT_FILE is invalid: expected a file path",
  METRICS_PORT: "METRICS_PORT is invalid: expected a port number from 0 to 65535, like 9464",
}

/** `bun bot/src/main.ts --help`: what the bot does and every variable it reads. */
export const USAGE = `Usage: bun bot/src/main.ts        (bun run start:bot; bun run dev:bot reloads on edits)

The NPS Telegram bot: polls Telegram for messages and answers them through the NPS API. It
takes no arguments; it is configured by environment variables (an empty value counts as unset):

  NPS_BOT_TOKEN              Telegram bot token from @BotFather (required)
  TELEGRAM_BOT_API_URL       the NPS API base (default http://api:8000/api)
  TELEGRAM_BOT_SERVICE_KEY   the bot's NPS API key, scope telegram:service
  TELEGRAM_RATE_LIMIT        messages per minute per chat (default 20)
  TELEGRAM_API_ROOT          Bot API server root (default https://api.telegram.org)
  METRICS_PORT               serve Prometheus metrics at GET /metrics on this port (default off)
  BOT_HEARTBEAT_FILE         file touched after every successful getUpdates (healthchecks)
  LOG_LEVEL                  debug, info, warn or error (default info)

SIGTERM or SIGINT stops polling, lets updates in flight finish (5 s at most) and exits 0.

Options:
  -h, --help   show this help and exit`

/** Validates the bot's environment; throws ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined>): BotConfig {
  const raw: Record<string, unknown> = {}
  for (const name of Object.keys(EnvSchema.properties)) {
    // Compose files often pass `VAR=` for "unset": treat blank as absent.
    const value = env[name]?.trim()
    if (value) raw[name] = name === "LOG_LEVEL" ? value.toLowerCase() : value
  }

  const issues: ConfigIssue[] = []
  if (raw.NPS_BOT_TOKEN === undefined)
    issues.push({ variable: "NPS_BOT_TOKEN", message: TOKEN_MISSING })

  // Default and Convert work in place: hand them a copy so `raw` keeps the operator's text.
  const candidate = Value.Convert(EnvSchema, Value.Default(EnvSchema, { ...raw })) as Record<
    string,
    unknown
  >
  const bad = new Set<string>()
  for (const error of Value.Errors(EnvSchema, candidate)) {
    const variable = error.path.split("/")[1] as keyof Env | undefined
    if (
      !variable ||
      bad.has(variable) ||
      (variable === "NPS_BOT_TOKEN" && raw.NPS_BOT_TOKEN === undefined)
    )
      continue
    bad.add(variable)
    issues.push({ variable, message: REQUIREMENTS[variable] ?? `${variable} is invalid` })
  }
  // Convert truncates "2.5" to 2; a number must be written as a whole number.
  for (const name of ["TELEGRAM_RATE_LIMIT", "METRICS_PORT"] as const) {
    if (raw[name] !== undefined && !bad.has(name) && Number(raw[name]) !== candidate[name]) {
      bad.add(name)
      issues.push({ variable: name, message: REQUIREMENTS[name] })
    }
  }
  for (const name of ["TELEGRAM_BOT_API_URL", "TELEGRAM_API_ROOT"] as const) {
    const value = candidate[name]
    if (!bad.has(name) && typeof value === "string" && !URL.canParse(value)) {
      issues.push({ variable: name, message: REQUIREMENTS[name] })
    }
  }
  if (issues.length > 0) throw new ConfigError(issues)

  const parsed = candidate as unknown as Env
  return {
    token: parsed.NPS_BOT_TOKEN,
    apiUrl: parsed.TELEGRAM_BOT_API_URL.replace(/\/+$/, ""),
    serviceKey: parsed.TELEGRAM_BOT_SERVICE_KEY,
    rateLimit: parsed.TELEGRAM_RATE_LIMIT,
    telegramApiRoot: parsed.TELEGRAM_API_ROOT.replace(/\/+$/, ""),
    logLevel: parsed.LOG_LEVEL,
    heartbeatFile: parsed.BOT_HEARTBEAT_FILE,
    metricsPort: parsed.METRICS_PORT,
  }
}
