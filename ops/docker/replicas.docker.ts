// `bun run test:docker`, part two: the replicas override on a real Docker engine, as docs/scaling-out.md
// runs it — compose.yaml + compose.replicas.yaml (Redis, two API replicas, two bot
// replicas in webhook mode) + the Telegram stand-in, which POSTs updates to the bots' webhook.
// A conversation through it, one update posted to both bot replicas (handled once), a burst from
// one chat spread over both (exactly the limit, each update handled once however often it is
// redelivered), a notification accepted by one API replica and delivered from the budget both
// bot replicas share, a clean stop, no secret in the logs, down -v.
// Needs the redis image (pulled, or a local stand-in under its tag); says so and passes without.
import { afterAll, expect, test } from "bun:test"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { freePort, parseEnvFile, read } from "../test/helpers"
import { engineMissing, sh, withoutEngine } from "./engine"

const PROJECT = `nps-replicastest-${process.pid}`
const FILES = [
  "-f",
  "compose.yaml",
  "-f",
  "compose.replicas.yaml",
  "-f",
  "ops/docker/compose.standin.yaml",
]
const REDIS_IMAGE = (
  Bun.YAML.parse(read("compose.replicas.yaml")) as {
    services: { redis: { image: string } }
  }
).services.redis.image

async function redisImageMissing(): Promise<string | undefined> {
  if ((await sh(["docker", "image", "inspect", REDIS_IMAGE])).code === 0) return undefined
  const pull = await sh(["docker", "pull", REDIS_IMAGE], { timeoutMs: 300_000 })
  return pull.code === 0 ? undefined : `${REDIS_IMAGE} can be neither found nor pulled`
}

/** Two consecutive free ports (a range compose hands out to two replicas). */
function freeRange(): [number, number] {
  for (;;) {
    const first = freePort()
    try {
      const probe = Bun.serve({
        hostname: "127.0.0.1",
        port: first + 1,
        fetch: () => new Response(),
      })
      probe.stop(true)
      return [first, first + 1]
    } catch {}
  }
}

const missing = (await engineMissing()) ?? (await redisImageMissing())
if (missing) {
  withoutEngine(missing, "test:docker (replicas)")
} else {
  const scratch = mkdtempSync(join(tmpdir(), "nps-replicas-"))
  const envFile = join(scratch, ".env")
  const compose = (args: string[], options?: Parameters<typeof sh>[1]) =>
    sh(["docker", "compose", "-p", PROJECT, "--env-file", envFile, ...FILES, ...args], options)
  afterAll(async () => {
    await compose(["down", "-v", "--rmi", "local", "--remove-orphans"], { timeoutMs: 120_000 })
    rmSync(scratch, { recursive: true, force: true })
  })
  const hex = (bytes: number) =>
    Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("hex")

  test("compose.replicas.yaml: two API and two webhook bot replicas on Redis, healthy, one conversation, handled once, limited exactly, a notification delivered, stopped cleanly", async () => {
    const serviceKey = `nps_${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url")}`
    const apiPorts = freeRange()
    const webhookPorts = freeRange()
    const standInPort = freePort()
    const webhookPath = `/telegram/webhook-${hex(8)}`
    const dotenv = {
      ...parseEnvFile(read(".env.example")),
      NPS_BOT_TOKEN: `123456789:AA${hex(16)}`,
      TELEGRAM_BOT_SERVICE_KEY: serviceKey,
      JWT_SECRET: hex(32),
      POSTGRES_PASSWORD: hex(24),
      TELEGRAM_STANDIN_PORT: String(standInPort),
      API_PORTS: apiPorts.join("-"),
      WEBHOOK_PORTS: webhookPorts.join("-"),
      // No HTTPS proxy here: the stand-in plays Telegram on the compose network and posts to the
      // bots' service name, which Docker resolves to both replicas.
      WEBHOOK_URL: `http://telegram-bot:8081${webhookPath}`,
      WEBHOOK_SECRET: hex(32),
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
      const rows = ps.stdout
        .trim()
        .split("\n")
        .flatMap((line) => JSON.parse(line) as object | object[])
        .map(
          (r) =>
            r as { Name: string; Service: string; State: string; Health: string; ExitCode: number },
        )
      const states = rows
        .map((r) => `${r.Service} ${r.State === "exited" ? `exited ${r.ExitCode}` : r.Health}`)
        .sort()
      expect(states).toEqual([
        "api healthy",
        "api healthy",
        "migrate exited 0",
        "postgres healthy",
        "redis healthy",
        "telegram-bot healthy",
        "telegram-bot healthy",
        "telegram-standin healthy",
      ])
      console.log((await compose(["ps", "-a"])).stdout)

      // Both API replicas answer, each on its port of API_PORTS.
      for (const port of apiPorts) {
        const health = await fetch(`http://127.0.0.1:${port}/api/health`)
        expect(await health.json()).toEqual({ status: "ok" })
      }

      // A conversation: the stand-in delivers each message to the webhook (either replica).
      const standIn = `http://127.0.0.1:${standInPort}`
      const say = async (chat: number, text: string) => {
        const url = new URL(`${standIn}/_say`)
        url.searchParams.set("chat", String(chat))
        url.searchParams.set("text", text)
        const response = await fetch(url)
        expect(response.status).toBe(200)
        return ((await response.json()) as string[]).join("\n")
      }
      const sent = async (chat: number) =>
        (await (await fetch(`${standIn}/_sent?chat=${chat}`)).json()) as string[]
      expect(await say(42, "/start")).toContain("NPS Oracle Bot")
      const admin = (args: string[], stdin?: string) =>
        compose(["exec", "-T", "api", "bun", "api/src/admin.ts", ...args], { stdin })
      expect(
        (await admin(["create-user", "--username", "alice", "--password-stdin"], "long password\n"))
          .code,
      ).toBe(0)
      const created = await admin([
        "create-key",
        "--username",
        "alice",
        "--name",
        "phone",
        "--json",
      ])
      const aliceKey = (JSON.parse(created.stdout) as { key: string }).key
      expect(await say(42, `/link ${aliceKey}`)).toContain("Welcome, alice")
      expect(await say(42, "/status")).toContain("alice")
      const webhook = (await (await fetch(`${standIn}/_webhook`)).json()) as {
        url: string
        deliveries: { status: number }[]
      }
      expect(webhook.url).toBe(dotenv.WEBHOOK_URL)
      expect(webhook.deliveries.every((d) => d.status === 200)).toBe(true)

      // As Telegram (or a proxy) would: POST straight to each replica's published webhook port.
      let nextId = 900_000
      const update = (chat: number, text: string) => ({
        update_id: nextId++,
        message: {
          message_id: nextId,
          date: Math.floor(Date.now() / 1000),
          chat: { id: chat, type: "private", first_name: "Test" },
          from: { id: chat, is_bot: false, first_name: "Test" },
          text,
          entities: [{ type: "bot_command", offset: 0, length: text.split(" ")[0]?.length ?? 0 }],
        },
      })
      const post = (port: number, body: unknown, secret = dotenv.WEBHOOK_SECRET) =>
        fetch(`http://127.0.0.1:${port}${webhookPath}`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "x-telegram-bot-api-secret-token": secret,
          },
          body: JSON.stringify(body),
        })
      const [portA, portB] = webhookPorts
      expect((await post(portA, update(43, "/help"), "wrong")).status).toBe(401)
      expect(await sent(43)).toEqual([])

      const once = update(43, "/help")
      expect((await post(portA, once)).status).toBe(200)
      expect((await post(portB, once)).status).toBe(200)
      expect(await sent(43)).toHaveLength(1)

      // A burst from one chat over both replicas. Its 21 replies go at Telegram's 1 a second to a
      // private chat, longer than a webhook request waits (10 s): the later ones answer 503 and,
      // as Telegram does, are delivered again after Retry-After (to either replica) until 200.
      const deliver = async (body: unknown, first: number) => {
        for (let attempt = 0; attempt < 60; attempt++) {
          const answer = await post(attempt % 2 ? (first === portA ? portB : portA) : first, body)
          if (answer.status !== 503) return answer.status
          await Bun.sleep(1_000 * Number(answer.headers.get("retry-after") ?? 1))
        }
        return 503
      }
      const burst = Array.from({ length: 25 }, () => update(44, "/help"))
      const answers = await Promise.all(burst.map((u, i) => deliver(u, i % 2 ? portB : portA)))
      expect(answers).toEqual(Array(25).fill(200))
      const texts = await sent(44)
      expect(texts.filter((t) => t.includes("/profile"))).toHaveLength(20)
      expect(texts.filter((t) => /slow down/i.test(t))).toHaveLength(1)

      // A notification, accepted by one API replica, followed on the other, sent by a bot replica.
      const service = await admin(
        ["create-user", "--username", "oracle-service", "--password-stdin"],
        "another long password\n",
      )
      expect(service.code).toBe(0)
      const notifyKey = (
        JSON.parse(
          (
            await admin([
              "create-key",
              "--username",
              "oracle-service",
              "--name",
              "alerts",
              "--scopes",
              "telegram:notify",
              "--json",
            ])
          ).stdout,
        ) as { key: string }
      ).key
      const before = (await sent(42)).length
      const accepted = await fetch(`http://127.0.0.1:${apiPorts[1]}/api/telegram/notifications`, {
        method: "POST",
        headers: { authorization: `Bearer ${notifyKey}`, "content-type": "application/json" },
        body: JSON.stringify({ username: "alice", text: "Your reading is ready." }),
      })
      expect(accepted.status).toBe(202)
      const { id } = (await accepted.json()) as { id: string }
      const delivered = await fetch(`${standIn}/_sent?chat=42&count=${before + 1}`)
      expect(delivered.status).toBe(200)
      expect(((await delivered.json()) as string[]).slice(before)).toEqual([
        "Your reading is ready.",
      ])
      // The bot reports after Telegram answered: the status follows within moments.
      let status = ""
      for (const deadline = Date.now() + 15_000; Date.now() < deadline; ) {
        const view = await fetch(
          `http://127.0.0.1:${apiPorts[0]}/api/telegram/notifications/${id}`,
          {
            headers: { authorization: `Bearer ${notifyKey}` },
          },
        )
        status = ((await view.json()) as { status: string }).status
        if (status !== "queued") break
        await Bun.sleep(200)
      }
      expect(status).toBe("sent")
      // Both bot replicas draw from one outbound budget: each says so in Redis.
      const pacers = await compose([
        "exec",
        "-T",
        "redis",
        "redis-cli",
        "ZCARD",
        `nps:bot:${dotenv.NPS_BOT_TOKEN.split(":")[0]}:pacers`,
      ])
      expect(pacers.stdout.trim()).toBe("2")

      const perReplica: Record<string, number> = {}
      for (const row of rows.filter((r) => r.Service === "telegram-bot")) {
        const logs = await sh(["docker", "logs", row.Name])
        perReplica[row.Name] = `${logs.stdout}${logs.stderr}`.split('"update handled"').length - 1
      }
      console.log("updates handled per bot replica:", perReplica)
      expect(Object.values(perReplica).filter((count) => count > 0)).toHaveLength(2)

      // Stopping the bots (SIGTERM): each replica exits 0, and the webhook stays registered.
      expect((await compose(["stop", "telegram-bot"], { timeoutMs: 120_000 })).code).toBe(0)
      const after = (await (await fetch(`${standIn}/_webhook`)).json()) as { url: string }
      expect(after.url).toBe(dotenv.WEBHOOK_URL)
      const calls = (await (await fetch(`${standIn}/_calls`)).json()) as string[]
      expect(calls.filter((c) => c.startsWith("deleteWebhook"))).toEqual([])
      expect((await compose(["stop"], { timeoutMs: 120_000 })).code).toBe(0)
      const stopped = await compose(["ps", "-a", "--format", "{{.Name}} {{.State}} {{.ExitCode}}"])
      const replicas = stopped.stdout
        .trim()
        .split("\n")
        .filter((line) => /-(api|telegram-bot)-\d/.test(line))
      expect(replicas).toHaveLength(4)
      for (const line of replicas) expect(line).toEndWith("exited 0")

      const logs = await compose(["logs", "--no-log-prefix"])
      for (const secret of [
        serviceKey,
        aliceKey,
        notifyKey,
        dotenv.NPS_BOT_TOKEN,
        dotenv.JWT_SECRET,
        dotenv.WEBHOOK_SECRET,
      ])
        expect(logs.stdout + logs.stderr).not.toContain(secret)
    } catch (error) {
      const logs = await compose(["logs", "--tail", "40"])
      console.error(`docker compose logs (last lines):\n${logs.stdout}${logs.stderr}`)
      throw error
    }
  }, 900_000)
}
