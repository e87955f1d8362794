import { type Static, Type as T } from "@sinclair/typebox"
import { Value } from "@sinclair/typebox/value"

export const API_KEY_PATTERN = "^nps_[A-Za-z0-9_-]{20,100}$"

// Keys are the environment variable names, so an error names exactly what to fix.
const Env = T.Object({
  NODE_ENV: T.Union([T.Literal("development"), T.Literal("production"), T.Literal("test")], {
    default: "development",
  }),
  DATABASE_URL: T.Optional(T.String({ pattern: "^postgres(ql)?://" })),
  PGLITE_DIR: T.String({ minLength: 1, default: "./.data/pglite" }),
  HOST: T.String({ minLength: 1, default: "0.0.0.0" }),
  PORT: T.Integer({ minimum: 0, maximum: 65535, default: 8000 }),
  JWT_SECRET: T.Optional(T.String({ minLength: 16 })),
  TELEGRAM_BOT_SERVICE_KEY: T.Optional(T.String({ pattern: API_KEY_PATTERN })),
  TELEGRAM_BOT_USERNAME: T.Optional(T.String({ pattern: "^@?[A-Za-z][A-Za-z0-9_]{3,31}$" })),
  REDIS_URL: T.Optional(T.String({ pattern: "^rediss?://[^\\s]+$" })),
  LOG_LEVEL: T.Union(
    [T.Literal("debug"), T.Literal("info"), T.Literal("warn"), T.Literal("error")],
    { default: "info" },
  ),
  NOTIFICATION_RETENTION_DAYS: T.Integer({ minimum: 1, maximum: 36_500, default: 30 }),
  NOTIFY_WEBHOOKS_ALLOW_PRIVATE: T.Union([T.Literal("true"), T.Literal("false")], {
    default: "false",
  }),
})

export interface Config {
  nodeEnv: Static<typeof Env>["NODE_ENV"]
  databaseUrl: string | undefined
  pgliteDir: string
  host: string
  port: number
  jwtSecret: string
  /** True when no JWT_SECRET was given and a per-process one was made up (development only). */
  jwtSecretGenerated: boolean
  serviceKey: string | undefined
  botUsername: string | undefined
  /** Shared state for replicas (brute-force limits); undefined: this process's memory. */
  redisUrl: string | undefined
  logLevel: Static<typeof Env>["LOG_LEVEL"]
  /** Finished notifications older than this many days are deleted in the background. */
  retentionDays: number
  /** Status-webhook URLs may point at loopback and private addresses (development, tests). */
  webhooksAllowPrivate: boolean
}

export interface ConfigIssue {
  variable: string
  message: string
}

export class ConfigError extends Error {
  override name = "ConfigError"
  constructor(readonly issues: ConfigIssue[]) {
    super(`invalid configuration: ${issues.map((i) => i.message).join("; ")}`)
  }
}

type Variable = keyof Static<typeof Env>

// What each variable must look like, for operators: the variable, what is wrong, an example.
// Never the value: it may be a secret.
const REQUIREMENTS: Record<Variable, string> = {
  NODE_ENV: "NODE_ENV is invalid: expected development, production or test",
  DATABASE_URL:
    "DATABASE_URL is invalid: expected a Postgres URL like postgres://nps:password@db:5432/nps (unset it to use embedded PGlite)",
  PGLITE_DIR: "PGLITE_DIR is invalid: expected a directory path like ./.data/pglite",
  HOST: "HOST is invalid: expected an address to listen on, like 0.0.0.0 or 127.0.0.1",
  PORT: "PORT is invalid: expected a whole number from 0 to 65535, like 8000",
  JWT_SECRET:
    "JWT_SECRET is invalid: expected at least 16 characters, like the output of `openssl rand -hex 32`",
  TELEGRAM_BOT_SERVICE_KEY:
    "TELEGRAM_BOT_SERVICE_KEY is invalid: expected an NPS API key, nps_ followed by URL-safe base64, like the output of `bun run admin gen-key`",
  TELEGRAM_BOT_USERNAME:
    "TELEGRAM_BOT_USERNAME is invalid: expected the bot's Telegram username, like @nps_oracle_bot",
  LOG_LEVEL: "LOG_LEVEL is invalid: expected one of debug, info, warn, error",
  NOTIFICATION_RETENTION_DAYS:
    "NOTIFICATION_RETENTION_DAYS is invalid: expected a whole number of days from 1 to 36500, like 30",
  NOTIFY_WEBHOOKS_ALLOW_PRIVATE:
    "NOTIFY_WEBHOOKS_ALLOW_PRIVATE is invalid: expected true or false (true only for development and tests)",
  REDIS_URL:
    "REDIS_URL is invalid: expected a Redis URL like redis://redis:6379 (rediss:// for TLS, redis://:password@host:6379/0 with a password and database)",
}
export const JWT_SECRET_REQUIRED =
  "JWT_SECRET is required when NODE_ENV=production: set it to a random secret of at least 16 characters, like the output of `openssl rand -hex 32`"

/** Parses the API's environment; throws ConfigError naming every bad variable (never its value). */
export function loadConfig(env: Record<string, string | undefined>): Config {
  // An empty variable means "unset", as in compose files that pass `VAR=`.
  const present: Record<string, string> = Object.fromEntries(
    Object.keys(Env.properties).flatMap((k) => (env[k]?.trim() ? [[k, env[k]?.trim()]] : [])),
  )
  if (present.LOG_LEVEL) present.LOG_LEVEL = present.LOG_LEVEL.toLowerCase()
  if (present.NOTIFY_WEBHOOKS_ALLOW_PRIVATE)
    present.NOTIFY_WEBHOOKS_ALLOW_PRIVATE = present.NOTIFY_WEBHOOKS_ALLOW_PRIVATE.toLowerCase()
  // Default and Convert work in place: hand them a copy so `present` keeps the operator's text.
  const value = Value.Default(Env, Value.Convert(Env, { ...present }))
  const bad = new Set<Variable>()
  for (const error of Value.Errors(Env, value)) bad.add(error.path.split("/")[1] as Variable)
  // Convert would read "80.5" or "8e3" as some port; only plain digits are a port.
  if (present.PORT !== undefined && !/^[0-9]+$/.test(present.PORT)) bad.add("PORT")
  const days = present.NOTIFICATION_RETENTION_DAYS
  if (days !== undefined && !/^[0-9]+$/.test(days)) bad.add("NOTIFICATION_RETENTION_DAYS")
  if (present.REDIS_URL !== undefined && !URL.canParse(present.REDIS_URL)) bad.add("REDIS_URL")
  const issues = [...bad].map((variable) => ({
    variable,
    message: REQUIREMENTS[variable] ?? `${variable} is invalid`,
  }))
  if (issues.length === 0 && (value as Static<typeof Env>).NODE_ENV === "production") {
    if (!(value as Static<typeof Env>).JWT_SECRET)
      issues.push({ variable: "JWT_SECRET", message: JWT_SECRET_REQUIRED })
  }
  if (issues.length > 0) throw new ConfigError(issues)
  const e = value as Static<typeof Env>
  return {
    nodeEnv: e.NODE_ENV,
    databaseUrl: e.DATABASE_URL,
    pgliteDir: e.PGLITE_DIR,
    host: e.HOST,
    port: e.PORT,
    jwtSecret: e.JWT_SECRET ?? crypto.randomUUID() + crypto.randomUUID(),
    jwtSecretGenerated: !e.JWT_SECRET,
    serviceKey: e.TELEGRAM_BOT_SERVICE_KEY,
    botUsername: e.TELEGRAM_BOT_USERNAME?.replace(/^@/, ""),
    redisUrl: e.REDIS_URL,
    logLevel: e.LOG_LEVEL,
    retentionDays: e.NOTIFICATION_RETENTION_DAYS,
    webhooksAllowPrivate: e.NOTIFY_WEBHOOKS_ALLOW_PRIVATE === "true",
  }
}
