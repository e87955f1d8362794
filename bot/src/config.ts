// Bot configuration: one TypeBox schema keyed by the environment variable names of CONTRACT.md,
// parsed once in main.ts and passed down. Tests call loadConfig({ … }) directly.
import { type Static, Type } from "@sinclair/typebox"
import { Value } from "@sinclair/typebox/value"
import {
  DEFAULT_BROADCAST_RATE,
  FREE_BROADCAST_LIMIT,
  PAID_BROADCAST_LIMIT,
} from "./outbound/broadcast"

const LOG_LEVELS = ["debug", "info", "warn", "error"] as const
const BOT_MODES = ["polling", "webhook"] as const
const REDIS_URL_PATTERN = "^rediss?://[^\\s]+$"
const BOOLEANS = ["true", "false"] as const

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
  // Webhook mode and replicas.
  BOT_MODE: Type.Union(
    BOT_MODES.map((mode) => Type.Literal(mode)),
    { default: "polling" },
  ),
  WEBHOOK_URL: Type.Optional(Type.String({ pattern: "^https?://[^\\s]+$" })),
  // What Telegram allows for setWebhook's secret_token.
  WEBHOOK_SECRET: Type.Optional(Type.String({ pattern: "^[A-Za-z0-9_-]{1,256}$" })),
  WEBHOOK_HOST: Type.String({ minLength: 1, default: "0.0.0.0" }),
  WEBHOOK_PORT: Type.Integer({ minimum: 0, maximum: 65_535, default: 8081 }),
  REDIS_URL: Type.Optional(Type.String({ pattern: REDIS_URL_PATTERN })),
  // Paid broadcast (Bot API 7.11): notifications above Telegram's free 30 a second, billed in Stars.
  TELEGRAM_PAID_BROADCAST: Type.Union(
    BOOLEANS.map((value) => Type.Literal(value)),
    { default: "false" },
  ),
  TELEGRAM_BROADCAST_RATE: Type.Integer({
    minimum: 1,
    maximum: PAID_BROADCAST_LIMIT,
    default: DEFAULT_BROADCAST_RATE,
  }),
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
  /** How updates arrive: long polling (one process per token) or a webhook (any number). */
  mode: (typeof BOT_MODES)[number]
  /** Webhook mode only. */
  webhook: WebhookConfig | undefined
  /** Shared state for replicas; undefined: everything in this process's memory. */
  redisUrl: string | undefined
  /** Notifications go with allow_paid_broadcast, above Telegram's free 30 a second. */
  paidBroadcast: boolean
  /** Notifications per second overall (≤ 30 free, ≤ 1000 paid). */
  broadcastRate: number
}

export interface WebhookConfig {
  /** The public URL registered with setWebhook. */
  url: string
  /** The path of `url`: what the bot serves POST on. */
  path: string
  /** setWebhook's secret_token, expected back in X-Telegram-Bot-Api-Secret-Token. */
  secret: string
  host: string
  port: number
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
const WEBHOOK_URL_EXAMPLE =
  "the public https URL Telegram posts updates to, like https://bot.example.com/telegram/webhook"
const WEBHOOK_SECRET_EXAMPLE =
  "1 to 256 characters of A-Z, a-z, 0-9, _ and -, like the output of `openssl rand -hex 32`"

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
  BOT_MODE: `BOT_MODE is invalid: expected ${BOT_MODES.join(" or ")}`,
  WEBHOOK_URL: `WEBHOOK_URL is invalid: expected ${WEBHOOK_URL_EXAMPLE}`,
  WEBHOOK_SECRET: `WEBHOOK_SECRET is invalid: expected ${WEBHOOK_SECRET_EXAMPLE}`,
  WEBHOOK_HOST: "WEBHOOK_HOST is invalid: expected an address to listen on, like 0.0.0.0",
  WEBHOOK_PORT: "WEBHOOK_PORT is invalid: expected a port number from 0 to 65535, like 8081",
  REDIS_URL:
    "REDIS_URL is invalid: expected a Redis URL like redis://redis:6379 (rediss:// for TLS, redis://:password@host:6379/0 with a password and database)",
  TELEGRAM_PAID_BROADCAST: "TELEGRAM_PAID_BROADCAST is invalid: expected true or false",
  TELEGRAM_BROADCAST_RATE: `TELEGRAM_BROADCAST_RATE is invalid: expected a whole number of notifications a second, from 1 to ${FREE_BROADCAST_LIMIT} (up to ${PAID_BROADCAST_LIMIT} with TELEGRAM_PAID_BROADCAST=true)`,
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
  BOT_HEARTBEAT_FILE         file touched while the bot receives updates (healthchecks)
  LOG_LEVEL                  debug, info, warn or error (default info)
  BOT_MODE                   polling (default; one process per token) or webhook (any number)
  WEBHOOK_URL                webhook mode: the public https URL Telegram posts updates to
  WEBHOOK_SECRET             webhook mode: the secret Telegram sends with every update
  WEBHOOK_HOST, WEBHOOK_PORT webhook mode: where the bot listens (default 0.0.0.0 and 8081)
  REDIS_URL                  share the rate limit, de-duplication and pacing with other replicas
  TELEGRAM_PAID_BROADCAST    true: notifications go with allow_paid_broadcast (billed in Stars
                             above 30 a second), so they may go faster (default false)
  TELEGRAM_BROADCAST_RATE    notifications a second overall (default ${DEFAULT_BROADCAST_RATE}; at most ${FREE_BROADCAST_LIMIT}, or
                             ${PAID_BROADCAST_LIMIT} with paid broadcast)

SIGTERM or SIGINT stops receiving updates, lets those in flight finish and exits 0 within 10 s.

Options:
  -h, --help   show this help and exit`

const LOWERCASED = new Set(["LOG_LEVEL", "BOT_MODE", "TELEGRAM_PAID_BROADCAST"])

/** Validates the bot's environment; throws ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined>): BotConfig {
  const raw: Record<string, unknown> = {}
  for (const name of Object.keys(EnvSchema.properties)) {
    // Compose files often pass `VAR=` for "unset": treat blank as absent.
    const value = env[name]?.trim()
    if (value) raw[name] = LOWERCASED.has(name) ? value.toLowerCase() : value
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
  for (const name of [
    "TELEGRAM_RATE_LIMIT",
    "METRICS_PORT",
    "WEBHOOK_PORT",
    "TELEGRAM_BROADCAST_RATE",
  ] as const) {
    if (raw[name] !== undefined && !bad.has(name) && Number(raw[name]) !== candidate[name]) {
      bad.add(name)
      issues.push({ variable: name, message: REQUIREMENTS[name] })
    }
  }
  for (const name of [
    "TELEGRAM_BOT_API_URL",
    "TELEGRAM_API_ROOT",
    "WEBHOOK_URL",
    "REDIS_URL",
  ] as const) {
    const value = candidate[name]
    if (!bad.has(name) && typeof value === "string" && !URL.canParse(value)) {
      bad.add(name)
      issues.push({ variable: name, message: REQUIREMENTS[name] })
    }
  }
  if (
    !bad.has("WEBHOOK_URL") &&
    typeof candidate.WEBHOOK_URL === "string" &&
    new URL(candidate.WEBHOOK_URL).pathname === "/healthz"
  )
    issues.push({
      variable: "WEBHOOK_URL",
      message: `WEBHOOK_URL is invalid: its path cannot be /healthz (the health check); expected ${WEBHOOK_URL_EXAMPLE}`,
    })
  if (
    !bad.has("TELEGRAM_BROADCAST_RATE") &&
    candidate.TELEGRAM_PAID_BROADCAST !== "true" &&
    Number(candidate.TELEGRAM_BROADCAST_RATE) > FREE_BROADCAST_LIMIT
  )
    issues.push({
      variable: "TELEGRAM_BROADCAST_RATE",
      message: `TELEGRAM_BROADCAST_RATE is too high: Telegram allows at most ${FREE_BROADCAST_LIMIT} notifications a second without paid broadcast; lower it, or set TELEGRAM_PAID_BROADCAST=true (billed in Telegram Stars) for up to ${PAID_BROADCAST_LIMIT}`,
    })
  if (candidate.BOT_MODE === "webhook") {
    if (raw.WEBHOOK_URL === undefined)
      issues.push({
        variable: "WEBHOOK_URL",
        message: `WEBHOOK_URL is required when BOT_MODE=webhook: ${WEBHOOK_URL_EXAMPLE}`,
      })
    if (raw.WEBHOOK_SECRET === undefined)
      issues.push({
        variable: "WEBHOOK_SECRET",
        message: `WEBHOOK_SECRET is required when BOT_MODE=webhook: ${WEBHOOK_SECRET_EXAMPLE}`,
      })
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
    mode: parsed.BOT_MODE,
    webhook:
      parsed.BOT_MODE === "webhook" && parsed.WEBHOOK_URL && parsed.WEBHOOK_SECRET
        ? {
            url: parsed.WEBHOOK_URL,
            path: new URL(parsed.WEBHOOK_URL).pathname,
            secret: parsed.WEBHOOK_SECRET,
            host: parsed.WEBHOOK_HOST,
            port: parsed.WEBHOOK_PORT,
          }
        : undefined,
    redisUrl: parsed.REDIS_URL,
    paidBroadcast: parsed.TELEGRAM_PAID_BROADCAST === "true",
    broadcastRate: parsed.TELEGRAM_BROADCAST_RATE,
  }
}
