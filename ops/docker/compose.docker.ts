// `bun run test:docker`: the real stack on a real Docker engine, as docs/operating.md's "In production" section
// runs it — `docker compose up -d --build --wait` with an offline Telegram (compose.standin.yaml),
// every service healthy (migrate exited 0), the API answering on API_PORT, the bot answering
// /start and linking through the stand-in container, a clean `stop` (exit 0), then `down -v`.
// Not part of `bun run test` (it takes a minute and needs an engine); without an engine it says
// so and passes.
import { afterAll, expect, test } from "bun:test"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { freePort, parseEnvFile, read } from "../test/helpers"
import { engineMissing, sh, withoutEngine } from "./engine"

// Its own project per run (runs may overlap on a shared engine); `down --rmi local` removes its
// images again, while the builder's cache keeps the next build fast.
const PROJECT = `nps-dockertest-${process.pid}`
const FILES = ["-f", "compose.yaml", "-f", "ops/docker/compose.standin.yaml"]

const missing = await engineMissing()
if (missing) {
  withoutEngine(missing, "test:docker")
} else {
  const scratch = mkdtempSync(join(tmpdir(), "nps-docker-"))
  const envFile = join(scratch, ".env")
  const compose = (args: string[], options?: Parameters<typeof sh>[1]) =>
    sh(["docker", "compose", "-p", PROJECT, "--env-file", envFile, ...FILES, ...args], options)
  afterAll(async () => {
    await compose(["down", "-v", "--rmi", "local", "--remove-orphans"], { timeoutMs: 120_000 })
    rmSync(scratch, { recursive: true, force: true })
  })

  const hex = (bytes: number) =>
    Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("hex")

  test("docker compose up --wait: every service healthy, /start answered through the stand-in, a clean stop", async () => {
    // .env as docs/operating.md's "First start" fills it, gen-key done with openssl as it shows.
    const key = await sh([
      "sh",
      "-c",
      "echo nps_$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=')",
    ])
    const serviceKey = key.stdout.trim()
    expect(serviceKey).toMatch(/^nps_[A-Za-z0-9_-]{43}$/)
    const apiPort = freePort()
    const standInPort = freePort()
    const dotenv = {
      ...parseEnvFile(read(".env.example")),
      NPS_BOT_TOKEN: `123456789:AA${hex(16)}`,
      TELEGRAM_BOT_SERVICE_KEY: serviceKey,
      JWT_SECRET: hex(32),
      POSTGRES_PASSWORD: hex(24),
      API_PORT: String(apiPort),
      TELEGRAM_STANDIN_PORT: String(standInPort),
      METRICS_PORT: "9464",
    }
    writeFileSync(
      envFile,
      Object.entries(dotenv)
        .map(([name, value]) => `${name}=${value}`)
        .join("\n"),
    )

    try {
      const up = await compose(["up", "-d", "--build", "--wait"], { timeoutMs: 600_000 })
      expect({ code: up.code, stderr: up.code === 0 ? "" : up.stderr }).toEqual({
        code: 0,
        stderr: "",
      })

      const ps = await compose(["ps", "-a", "--format", "json"])
      // Compose 2.26 prints one JSON object per line (later versions may print an array).
      const rows = ps.stdout
        .trim()
        .split("\n")
        .flatMap((line) => JSON.parse(line) as object | object[])
        .map((r) => r as { Service: string; State: string; Health: string; ExitCode: number })
      const state = Object.fromEntries(
        rows.map((r) => [r.Service, r.State === "exited" ? `exited ${r.ExitCode}` : r.Health]),
      )
      expect(state).toEqual({
        postgres: "healthy",
        migrate: "exited 0",
        api: "healthy",
        "telegram-standin": "healthy",
        "telegram-bot": "healthy",
      })
      console.log((await compose(["ps", "-a"])).stdout)

      // The API on API_PORT, as docs/operating.md's curl asks it.
      const health = await fetch(`http://127.0.0.1:${apiPort}/api/health`)
      expect(await health.json()).toEqual({ status: "ok" })

      // A user talks to the bot through the stand-in container.
      const say = async (text: string) => {
        const url = new URL(`http://127.0.0.1:${standInPort}/_say`)
        url.searchParams.set("chat", "42")
        url.searchParams.set("text", text)
        const response = await fetch(url)
        expect(response.status).toBe(200)
        return ((await response.json()) as string[]).join("\n")
      }
      const welcome = await say("/start")
      expect(welcome).toContain("NPS Oracle Bot")
      expect(welcome).toContain("/link")

      // An operator creates a user and a key in the api container (docs/operating.md: Users and keys).
      const admin = (args: string[], stdin?: string) =>
        compose(["exec", "-T", "api", "bun", "api/src/admin.ts", ...args], { stdin })
      const user = await admin(
        ["create-user", "--username", "alice", "--password-stdin", "--json"],
        "a long password\n",
      )
      expect(user.code).toBe(0)
      const created = await admin([
        "create-key",
        "--username",
        "alice",
        "--name",
        "phone",
        "--json",
      ])
      expect(created.code).toBe(0)
      const aliceKey = (JSON.parse(created.stdout) as { key: string }).key
      expect(await say(`/link ${aliceKey}`)).toContain("Welcome, alice")
      expect(await say("/status")).toContain("alice")

      // The bot's metrics, from inside the compose network (METRICS_PORT is not published).
      const metrics = await compose([
        "exec",
        "-T",
        "telegram-bot",
        "bun",
        "-e",
        "console.log(await (await fetch('http://127.0.0.1:9464/metrics')).text())",
      ])
      expect(metrics.stdout).toContain('nps_bot_updates_total{outcome="welcomed"} 1')
      expect(metrics.stdout).not.toMatch(/="42"/) // no chat id in a label

      // docker compose stop: SIGTERM, and both services exit 0 within their grace periods.
      expect((await compose(["stop"], { timeoutMs: 120_000 })).code).toBe(0)
      const stopped = await compose([
        "ps",
        "-a",
        "--format",
        "{{.Service}} {{.State}} {{.ExitCode}}",
      ])
      for (const service of ["api", "telegram-bot"])
        expect(stopped.stdout).toContain(`${service} exited 0`)

      const logs = await compose(["logs", "--no-log-prefix", "api", "telegram-bot", "migrate"])
      for (const secret of [serviceKey, aliceKey, dotenv.NPS_BOT_TOKEN, dotenv.JWT_SECRET])
        expect(logs.stdout + logs.stderr).not.toContain(secret)
    } catch (error) {
      const logs = await compose(["logs", "--tail", "40"])
      console.error(`docker compose logs (last lines):\n${logs.stdout}${logs.stderr}`)
      throw error
    }
  }, 900_000)
}
