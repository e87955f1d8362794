// compose.yaml, checked statically (there is no Docker engine here): dclint validates it against
// the compose specification's schema and its best-practice rules; the tests below pin down what
// the issue asks of each service and that .env.example and compose.yaml agree.
import { expect, test } from "bun:test"
import { loadConfig as loadApiConfig } from "../../api/src/config"
import { EnvSchema as BotEnv } from "../../bot/src/config"
import {
  composeVariables,
  documentedVariables,
  durationSeconds,
  generateKeyLikeEnvExample,
  InterpolationError,
  interpolate,
  keyGenerators,
  parseEnvFile,
  ROOT,
  read,
  readCompose,
  scriptArgv,
  serviceEnvironment,
} from "./helpers"
import { readDockerfile } from "./image"

test("dclint finds no error and no warning in compose.yaml", async () => {
  const proc = Bun.spawn(
    ["bun", "node_modules/dclint/bin/dclint.cjs", "compose.yaml", "--max-warnings", "0"],
    { cwd: ROOT, stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } },
  )
  const [code, out, err] = await Promise.all([
    proc.exited,
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
  ])
  expect(`${out}${err}`.trim()).toBe("")
  expect(code).toBe(0)
})

test("four services: postgres, a one-shot migrate job, the api and the telegram-bot", () => {
  expect(Object.keys(readCompose().services).sort()).toEqual([
    "api",
    "migrate",
    "postgres",
    "telegram-bot",
  ])
})

test("postgres: pinned official image, named volume, pg_isready healthcheck", () => {
  const { services, volumes } = readCompose()
  const postgres = services.postgres
  expect(postgres?.image).toMatch(/^postgres:\d+\.\d+(-[a-z0-9.]+)?$/)
  const [volume, target] = (postgres?.volumes?.[0] ?? "").split(":")
  expect(Object.keys(volumes ?? {})).toContain(volume as string)
  expect(target).toBe("/var/lib/postgresql/data")
  expect(postgres?.healthcheck?.test?.join(" ")).toContain("pg_isready")
  expect(postgres?.ports).toBeUndefined() // only the services on the compose network reach it
})

test("migrate: the api image running db:migrate in exec form once, after postgres is healthy", () => {
  const migrate = readCompose().services.migrate
  expect(migrate?.build?.dockerfile).toBe("api/Dockerfile")
  expect(migrate?.command).toEqual(scriptArgv("db:migrate"))
  expect(migrate?.restart).toBe("no")
  expect(migrate?.depends_on).toEqual({ postgres: { condition: "service_healthy" } })
})

test("api: waits for healthy postgres and a successful migration, port 8000, healthcheck", () => {
  const api = readCompose().services.api
  expect(api?.build?.dockerfile).toBe("api/Dockerfile")
  expect(api?.depends_on).toEqual({
    migrate: { condition: "service_completed_successfully" },
    postgres: { condition: "service_healthy" },
  })
  expect(api?.ports?.some((p) => p.endsWith(":8000"))).toBe(true)
  expect(api?.restart).toBe("unless-stopped")
  // The healthcheck the bot waits for is the image's: it must exist and not be disabled here.
  expect(readDockerfile(`${ROOT}/api/Dockerfile`).final.healthcheck).toBeDefined()
  expect(api?.healthcheck?.disable).not.toBe(true)
})

test("telegram-bot: after a healthy api, restarts, 0.25 CPU / 128 MB, no ports, grace > long poll", () => {
  const bot = readCompose().services["telegram-bot"]
  expect(bot?.build?.dockerfile).toBe("bot/Dockerfile")
  expect(bot?.depends_on).toEqual({ api: { condition: "service_healthy" } })
  expect(bot?.restart).toBe("unless-stopped")
  expect(bot?.deploy?.resources?.limits).toEqual({ cpus: "0.25", memory: "128M" })
  expect(bot?.ports).toBeUndefined()
  const LONG_POLL_SECONDS = 30 // bot/src/inbound/polling.ts timeoutSeconds
  expect(durationSeconds(bot?.stop_grace_period ?? "10s")).toBeGreaterThan(LONG_POLL_SECONDS)
  expect(readDockerfile(`${ROOT}/bot/Dockerfile`).final.healthcheck).toBeDefined()
})

test("api and bot run with an init process and in their own exec-form command", () => {
  const { services } = readCompose()
  for (const name of ["api", "migrate", "telegram-bot"]) {
    expect({ name, init: services[name]?.init }).toEqual({ name, init: true })
  }
  // No `command:` override on the long-running services: the image's exec-form CMD runs.
  expect(services.api?.command).toBeUndefined()
  expect(services["telegram-bot"]?.command).toBeUndefined()
})

test("every value comes from .env, and .env.example documents every one of them", () => {
  const example = read(".env.example")
  const documented = documentedVariables(example)
  for (const name of composeVariables())
    expect({ name, documented: documented.has(name) }).toEqual({ name, documented: true })
  // …and nothing in .env.example is left unused by compose (except what only `bun run` reads).
  const used = composeVariables()
  const active = Object.keys(parseEnvFile(example))
  expect(active.filter((name) => !used.has(name))).toEqual([])
})

test(".env.example covers every variable of both services in docs/operating.md's Configuration and the bot's schema", () => {
  const page = read("docs/operating.md")
  const start = page.indexOf("## Configuration")
  const section = page.slice(start, page.indexOf("\n## ", start + 1))
  const fromReadme = [...section.matchAll(/^\| `([A-Z_]+)`(?: \/ `([A-Z_]+)`)?/gm)].flatMap((m) =>
    [m[1], m[2]].filter(Boolean),
  ) as string[]
  expect(fromReadme.length).toBeGreaterThan(10)
  const documented = documentedVariables(read(".env.example"))
  for (const name of [...fromReadme, ...Object.keys(BotEnv.properties)])
    expect({ name, documented: documented.has(name) }).toEqual({ name, documented: true })
})

test(".env.example's ways to make the service key need no Bun, and make keys the API takes", () => {
  const lines = keyGenerators()
  expect(lines.length).toBeGreaterThanOrEqual(2) // openssl, and /dev/urandom without it
  for (const line of lines) {
    expect(line).not.toContain("bun")
    const keys = [generateKeyLikeEnvExample(line), generateKeyLikeEnvExample(line)]
    expect(keys[0]).not.toBe(keys[1])
    for (const key of keys) {
      // The contract's shape: nps_ and 43 URL-safe base64 characters (32 random bytes).
      expect(key).toMatch(/^nps_[A-Za-z0-9_-]{43}$/)
      expect(loadApiConfig({ TELEGRAM_BOT_SERVICE_KEY: key }).serviceKey).toBe(key)
    }
  }
})

test("the secrets are required: compose refuses to start while one is empty", () => {
  const shipped = parseEnvFile(read(".env.example"))
  const secrets = ["JWT_SECRET", "NPS_BOT_TOKEN", "POSTGRES_PASSWORD", "TELEGRAM_BOT_SERVICE_KEY"]
  for (const secret of secrets) expect(shipped[secret]).toBe("") // as .env.example ships
  const { services } = readCompose()
  const filled = Object.fromEntries(secrets.map((name) => [name, "x"]))
  const needs: Record<string, string[]> = {
    api: ["JWT_SECRET", "POSTGRES_PASSWORD", "TELEGRAM_BOT_SERVICE_KEY"],
    migrate: ["POSTGRES_PASSWORD"],
    postgres: ["POSTGRES_PASSWORD"],
    "telegram-bot": ["NPS_BOT_TOKEN", "TELEGRAM_BOT_SERVICE_KEY"],
  }
  for (const [name, required] of Object.entries(needs)) {
    const service = services[name] as NonNullable<(typeof services)[string]>
    expect(() => serviceEnvironment(service, { ...shipped, ...filled })).not.toThrow()
    for (const secret of required) {
      const vars = { ...shipped, ...filled, [secret]: "" }
      expect(() => serviceEnvironment(service, vars)).toThrow(InterpolationError)
      expect(() => serviceEnvironment(service, vars)).toThrow(`set ${secret} in .env`)
    }
  }
})

test("api and bot share one service key, and the bot reaches the api by its service name", () => {
  const vars = {
    ...parseEnvFile(read(".env.example")),
    NPS_BOT_TOKEN: "123:abc",
    TELEGRAM_BOT_SERVICE_KEY: "nps_shared",
    JWT_SECRET: "j".repeat(32),
    POSTGRES_PASSWORD: "pw",
  }
  const { services } = readCompose()
  const api = serviceEnvironment(services.api as NonNullable<typeof services.api>, vars)
  const bot = serviceEnvironment(
    services["telegram-bot"] as NonNullable<(typeof services)["telegram-bot"]>,
    vars,
  )
  const migrate = serviceEnvironment(services.migrate as NonNullable<typeof services.migrate>, vars)
  expect(api.TELEGRAM_BOT_SERVICE_KEY).toBe("nps_shared")
  expect(bot.TELEGRAM_BOT_SERVICE_KEY).toBe("nps_shared")
  expect(api.DATABASE_URL).toBe("postgres://nps:pw@postgres:5432/nps")
  expect(migrate.DATABASE_URL).toBe(api.DATABASE_URL as string)
  expect(api.NODE_ENV).toBe("production")
  expect(bot.TELEGRAM_BOT_API_URL).toBe(`http://api:${api.PORT}/api`)
  expect(bot.TELEGRAM_API_ROOT).toBe("https://api.telegram.org")
})

// Compose's own `${…}` syntax in plain strings, on purpose.
// biome-ignore-start lint/suspicious/noTemplateCurlyInString: compose variables, not templates
test("interpolation follows compose: defaults, required values and $$", () => {
  expect(interpolate("${A:-x}/${B-y}/${C:-z}", { A: "", B: "" })).toBe("x//z")
  expect(interpolate("$$HOME ${A}", { A: "1" })).toBe("$HOME 1")
  expect(() => interpolate("${A:?needed}", { A: "" })).toThrow("needed")
  expect(interpolate("${A?needed}", { A: "" })).toBe("")
})
// biome-ignore-end lint/suspicious/noTemplateCurlyInString: compose variables, not templates
