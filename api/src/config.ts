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
  LOG_LEVEL: T.Union(
    [T.Literal("debug"), T.Literal("info"), T.Literal("warn"), T.Literal("error")],
    { default: "info" },
  ),
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
  logLevel: Static<typeof Env>["LOG_LEVEL"]
}

export class ConfigError extends Error {
  override name = "ConfigError"
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join("; ")}`)
  }
}

/** Parses the API's environment; throws ConfigError naming every bad variable (never its value). */
export function loadConfig(env: Record<string, string | undefined>): Config {
  // An empty variable means "unset", as in compose files that pass `VAR=`.
  const present = Object.fromEntries(
    Object.keys(Env.properties).flatMap((k) => (env[k] ? [[k, env[k]]] : [])),
  )
  const value = Value.Default(Env, Value.Convert(Env, present))
  const problems = [...Value.Errors(Env, value)].map(
    (e) => `${e.path.slice(1) || "environment"}: ${e.message}`,
  )
  if (problems.length === 0 && (value as Static<typeof Env>).NODE_ENV === "production") {
    if (!(value as Static<typeof Env>).JWT_SECRET)
      problems.push("JWT_SECRET: required when NODE_ENV=production")
  }
  if (problems.length > 0) throw new ConfigError(problems)
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
    logLevel: e.LOG_LEVEL,
  }
}

/** What of a database URL must never be logged: the URL and its password, raw and decoded. */
export function databaseSecrets(url: string | undefined): string[] {
  if (!url || !URL.canParse(url)) return url ? [url] : []
  const { password } = new URL(url)
  return [url, password, decodeURIComponent(password)].filter(Boolean)
}
