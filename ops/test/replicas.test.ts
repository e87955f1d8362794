// compose.replicas.yaml, checked statically like compose.yaml: dclint, then what "Scaling out"
// promises of it — Redis, two API and two bot replicas in webhook mode — and that the merged
// environment is one the services accept.
import { expect, test } from "bun:test"
import { loadConfig as loadApiConfig } from "../../api/src/config"
import { loadConfig as loadBotConfig } from "../../bot/src/config"
import {
  type Compose,
  type ComposeService,
  documentedVariables,
  parseEnvFile,
  ROOT,
  read,
  readCompose,
  rootPackage,
  serviceEnvironment,
} from "./helpers"

const FILE = "compose.replicas.yaml"
const readReplicas = () => Bun.YAML.parse(read(FILE)) as Compose
type Replicated = ComposeService & { deploy?: { replicas?: number } }

/** The environment compose gives a service with both files: the override's entries win. */
function mergedEnvironment(name: string, vars: Record<string, string>) {
  const base = readCompose().services[name] ?? {}
  const override = readReplicas().services[name] ?? {}
  return serviceEnvironment({ environment: { ...base.environment, ...override.environment } }, vars)
}

const filledEnv = () => ({
  ...parseEnvFile(read(".env.example")),
  NPS_BOT_TOKEN: "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
  TELEGRAM_BOT_SERVICE_KEY: `nps_${"k".repeat(43)}`,
  JWT_SECRET: "j".repeat(32),
  POSTGRES_PASSWORD: "pw",
  WEBHOOK_URL: "https://bot.example.com/telegram/webhook-abc",
  WEBHOOK_SECRET: "0123456789abcdef",
})

test("dclint finds no error and no warning in compose.replicas.yaml, and lint:docker runs it", async () => {
  const proc = Bun.spawn(
    ["bun", "node_modules/dclint/bin/dclint.cjs", FILE, "--max-warnings", "0"],
    { cwd: ROOT, stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } },
  )
  const [code, out, err] = await Promise.all([
    proc.exited,
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
  ])
  expect(`${out}${err}`.trim()).toBe("")
  expect(code).toBe(0)
  expect(rootPackage().scripts["lint:docker"]).toContain(`dclint ${FILE} --max-warnings 0`)
})

test("adds Redis and runs two replicas of the api and of the bot, both waiting for a healthy Redis", () => {
  const { services } = readReplicas()
  expect(Object.keys(services).sort()).toEqual(["api", "redis", "telegram-bot"])
  for (const name of ["api", "telegram-bot"]) {
    const service = services[name] as Replicated
    expect({ name, replicas: service.deploy?.replicas }).toEqual({ name, replicas: 2 })
    expect(service.depends_on).toEqual({ redis: { condition: "service_healthy" } })
    expect(service.environment?.REDIS_URL).toBe("redis://redis:6379")
  }
})

test("redis: a pinned official image on the compose network only, nothing persisted, healthchecked", () => {
  const redis = readReplicas().services.redis
  expect(redis?.image).toMatch(/^redis:\d+\.\d+(-[a-z0-9.]+)?$/)
  expect(redis?.ports).toBeUndefined()
  expect(redis?.volumes).toBeUndefined()
  const command = redis?.command ?? []
  const option = (name: string) => command[command.indexOf(name) + 1]
  expect([option("--save"), option("--appendonly")]).toEqual(["", "no"])
  // Every key the product writes expires: eviction may only take those.
  expect(option("--maxmemory-policy")).toStartWith("volatile-")
  expect(redis?.healthcheck?.test).toEqual(["CMD", "redis-cli", "ping"])
  expect(redis?.restart).toBe("unless-stopped")
})

test("the bots run in webhook mode: URL and secret required, health on the port they listen on and publish", () => {
  const bot = readReplicas().services["telegram-bot"] as Replicated
  const env = mergedEnvironment("telegram-bot", filledEnv())
  const config = loadBotConfig(env)
  expect(config.mode).toBe("webhook")
  expect(config.redisUrl).toBe("redis://redis:6379")
  expect(config.webhook).toMatchObject({ path: "/telegram/webhook-abc", port: 8081 })
  expect(bot.ports).toEqual([`127.0.0.1:\${WEBHOOK_PORTS:-8443-8444}:${config.webhook?.port}`])
  expect(bot.healthcheck?.test?.join(" ")).toContain(
    `http://127.0.0.1:${config.webhook?.port}/healthz`,
  )
  for (const required of ["WEBHOOK_URL", "WEBHOOK_SECRET"]) {
    const vars = { ...filledEnv(), [required]: "" }
    expect(() => mergedEnvironment("telegram-bot", vars)).toThrow(`set ${required} in .env`)
  }
})

test("the api replicas share Redis and each get a host port of the range, replacing API_PORT", () => {
  const api = readReplicas().services.api
  expect(loadApiConfig(mergedEnvironment("api", filledEnv())).redisUrl).toBe("redis://redis:6379")
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a compose variable, not a template
  expect(api?.ports).toEqual(["127.0.0.1:${API_PORTS:-8000-8001}:8000"])
  // Merged, compose would keep compose.yaml's mapping too, and the second replica could not bind.
  expect(read(FILE)).toMatch(/^ {4}ports: !override$/m)
})

test(".env.example documents every variable the override reads", () => {
  const documented = documentedVariables(read(".env.example"))
  const VARIABLE = /\$\{([A-Za-z_][A-Za-z0-9_]*)/g
  const used = new Set([...read(FILE).matchAll(VARIABLE)].map((m) => m[1] as string))
  expect(used.size).toBeGreaterThan(0)
  for (const name of used)
    expect({ name, documented: documented.has(name) }).toEqual({ name, documented: true })
})
