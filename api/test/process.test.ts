// The API as operators run it: `bun api/src/main.ts` (start:api) in its own process.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { generateApiKey } from "../src/credentials"
import { run } from "./run"

// These tests start real processes and PGlite (seconds each on a busy machine).
setDefaultTimeout(30_000)

const ROOT = join(import.meta.dir, "..", "..")
const tmp = mkdtempSync(join(tmpdir(), "nps-api-proc-"))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

interface Running {
  proc: Bun.Subprocess<"ignore", "pipe", "pipe">
  base: string
  output: () => string
}

async function startApi(env: Record<string, string>): Promise<Running> {
  const proc = Bun.spawn(["bun", "api/src/main.ts"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOST: "127.0.0.1", PORT: "0", ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  })
  let text = ""
  const collect = async (stream: ReadableStream<Uint8Array>, onLine: (line: string) => void) => {
    const decoder = new TextDecoder()
    for await (const chunk of stream) {
      const piece = decoder.decode(chunk)
      text += piece
      for (const line of piece.split("\n")) onLine(line)
    }
  }
  const base = await new Promise<string>((resolve, reject) => {
    const onLine = (line: string) => {
      const url = line.includes('"api listening"') ? JSON.parse(line).url : undefined
      if (url) resolve(url as string)
    }
    void collect(proc.stdout, onLine)
    void collect(proc.stderr, () => {})
    proc.exited.then((code) => reject(new Error(`api exited ${code}: ${text}`)))
  })
  return { proc, base, output: () => text }
}

async function stop(api: Running) {
  const started = performance.now()
  api.proc.kill("SIGTERM")
  const code = await api.proc.exited
  return { code, ms: performance.now() - started }
}

test("start:api on embedded PGlite: migrates, serves, bootstraps the service key, stops cleanly and reopens", async () => {
  const serviceKey = generateApiKey()
  const env = { PGLITE_DIR: join(tmp, "pglite"), TELEGRAM_BOT_SERVICE_KEY: serviceKey }
  const api = await startApi(env)
  expect(await (await fetch(`${api.base}/health`)).json()).toEqual({ status: "ok" })
  const status = await fetch(`${api.base}/telegram/status/42`, {
    headers: { authorization: `Bearer ${serviceKey}` },
  })
  expect(await status.json()).toEqual({ linked: false })
  const docs = await fetch(`${api.base.replace(/\/api$/, "")}/swagger/json`)
  const paths = Object.keys(((await docs.json()) as { paths: object }).paths)
  for (const p of [
    "/api/telegram/link",
    "/api/telegram/status/{chat_id}",
    "/api/auth/login",
    "/api/health",
  ]) {
    expect(paths).toContain(p)
  }
  const { code, ms } = await stop(api)
  expect(code).toBe(0)
  expect(ms).toBeLessThan(10_000)
  expect(api.output()).not.toContain(serviceKey)

  // The directory was closed cleanly: a new process opens it and the key still works.
  const again = await startApi(env)
  const res = await fetch(`${again.base}/telegram/status/42`, {
    headers: { authorization: `Bearer ${serviceKey}` },
  })
  expect(res.status).toBe(200)
  expect((await stop(again)).code).toBe(0)
})

test("in production a validation error never echoes the submitted key", async () => {
  const secret = "nps_ProductionSecretThatMustNotLeak_0123456789"
  const serviceKey = generateApiKey()
  const api = await startApi({
    NODE_ENV: "production",
    JWT_SECRET: "p".repeat(40),
    PGLITE_DIR: join(tmp, "prod"),
    TELEGRAM_BOT_SERVICE_KEY: serviceKey,
  })
  // The bot's credentials: only they get past authentication to the body's validation.
  const headers = { "content-type": "application/json", authorization: `Bearer ${serviceKey}` }
  for (const [body, status] of [
    [JSON.stringify({ telegram_chat_id: "nope", api_key: secret }), 422],
    [JSON.stringify({ telegram_chat_id: 1, api_key: 42, other: secret }), 422],
    [`{"api_key":"${secret}"`, 400],
  ] as const) {
    const res = await fetch(`${api.base}/telegram/link`, { method: "POST", headers, body })
    expect(res.status).toBe(status)
    expect(await res.text()).not.toContain("ProductionSecret")
  }
  const big = await fetch(`${api.base}/telegram/link`, {
    method: "POST",
    headers,
    body: JSON.stringify({ api_key: secret, pad: "x".repeat(100_000) }),
  })
  expect(big.status).toBe(413)
  expect((await stop(api)).code).toBe(0)
  expect(api.output()).not.toContain("ProductionSecret")
})

test("production without JWT_SECRET refuses to start and names the variable", async () => {
  const proc = Bun.spawn(["bun", "api/src/main.ts"], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      NODE_ENV: "production",
      PGLITE_DIR: join(tmp, "nojwt"),
      PORT: "0",
    },
    stdout: "pipe",
    stderr: "pipe",
  })
  expect(await proc.exited).toBe(1)
  const out = (await new Response(proc.stdout).text()) + (await new Response(proc.stderr).text())
  expect(out).toContain("JWT_SECRET is required when NODE_ENV=production")
})

test("a second API on a taken port exits 1 naming the port, and the first keeps serving", async () => {
  const first = await startApi({ PGLITE_DIR: join(tmp, "first") })
  const port = new URL(first.base).port
  const second = Bun.spawn(["bun", "api/src/main.ts"], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOST: "127.0.0.1",
      PORT: port,
      PGLITE_DIR: join(tmp, "second"),
    },
    stdout: "pipe",
    stderr: "pipe",
  })
  expect(await second.exited).toBe(1)
  const out =
    (await new Response(second.stdout).text()) + (await new Response(second.stderr).text())
  expect(out).toContain(`port ${port} is already in use`)
  expect(out).not.toContain("api listening")
  expect((await fetch(`${first.base}/health`)).status).toBe(200)
  expect((await stop(first)).code).toBe(0)
})

test("bun run dev with the API's port taken says so and how to pick another, at once", async () => {
  const squatter = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } })
  try {
    const dev = Bun.spawn(["bun", "scripts/dev.ts"], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? "",
        HOST: "127.0.0.1",
        PORT: String(squatter.port),
        PGLITE_DIR: join(tmp, "dev", "pglite"),
        NO_COLOR: "1",
      },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    })
    expect(await dev.exited).toBe(1)
    const out = (await new Response(dev.stdout).text()) + (await new Response(dev.stderr).text())
    expect(out).toContain(`Port ${squatter.port} is already in use`)
    expect(out).toContain(`PORT=${squatter.port + 1} bun run dev`)
    expect(out).not.toMatch(/EADDRINUSE|^\s+at /m)
  } finally {
    squatter.stop(true)
  }
})

test("started while Postgres is unreachable: says so once, serves 503s, exits cleanly", async () => {
  const serviceKey = generateApiKey()
  // Nothing listens on port 1.
  const api = await startApi({
    DATABASE_URL: "postgres://nps:pw-secret-123@127.0.0.1:1/nps",
    TELEGRAM_BOT_SERVICE_KEY: serviceKey,
  })
  for (const path of ["/health", "/telegram/status/42"]) {
    const res = await fetch(`${api.base}${path}`, {
      headers: { authorization: `Bearer ${serviceKey}` },
    })
    expect(res.status).toBe(503)
    expect(((await res.json()) as { error: string }).error).toBe("database_unavailable")
  }
  expect((await stop(api)).code).toBe(0)
  const records = api
    .output()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l))
  const errors = records.filter((r) => r.level === "error")
  expect(errors.map((r) => r.msg)).toEqual(["database unavailable: answering 503 until it is back"])
  expect(JSON.stringify(errors[0])).not.toMatch(/stack|params/)
  for (const secret of [serviceKey, "pw-secret-123"]) expect(api.output()).not.toContain(secret)
})

/**
 * A Postgres server that refuses every login the way a real one does when the password is wrong
 * (SQLSTATE 28P01) — what compose's API meets after POSTGRES_PASSWORD changed in .env.
 */
function refusingPostgres() {
  const field = (type: string, value: string) => `${type}${value}\0`
  const body = Buffer.from(
    `${field("S", "FATAL")}${field("V", "FATAL")}${field("C", "28P01")}${field("M", 'password authentication failed for user "nps"')}\0`,
  )
  const reply = Buffer.alloc(5 + body.length)
  reply.write("E", 0)
  reply.writeInt32BE(4 + body.length, 1)
  body.copy(reply, 5)
  return Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(socket, data) {
        // An SSLRequest (8 bytes, code 80877103) gets "N"; the startup message gets the refusal.
        if (data.length === 8 && data.readInt32BE(4) === 80877103) socket.write("N")
        else socket.end(reply)
      },
    },
  })
}

test("refused database credentials (POSTGRES_PASSWORD changed after the first start): start:api and db:migrate say so in one sentence naming DATABASE_URL and POSTGRES_PASSWORD, exit 1", async () => {
  const server = refusingPostgres()
  try {
    for (const [argv, failure] of [
      [["bun", "api/src/main.ts"], "startup failed"],
      [["bun", "api/src/db-cli.ts", "migrate"], "migrate failed"],
    ] as const) {
      const res = await run([...argv], {
        DATABASE_URL: `postgres://nps:pw-secret-123@127.0.0.1:${server.port}/nps`,
        TELEGRAM_BOT_SERVICE_KEY: generateApiKey(),
        PORT: "0",
      })
      expect(res.code).toBe(1)
      const records = `${res.stdout}\n${res.stderr}`
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as { level: string; msg: string })
      const failed = records.find((r) => r.msg.startsWith(failure))
      expect(failed?.msg).toContain("refused the credentials in DATABASE_URL")
      expect(failed?.msg).toContain("POSTGRES_PASSWORD")
      expect(`${res.stdout}${res.stderr}`).not.toMatch(/pw-secret-123|"stack"/)
      expect(records.some((r) => r.msg === "api listening")).toBe(false)
    }
  } finally {
    server.stop(true)
  }
})

test("start:api --help prints its usage and opens nothing; an unknown option is an error", async () => {
  const fresh = join(tmp, "help-pglite")
  for (const flag of ["--help", "-h"]) {
    const res = await run(["bun", "run", "--silent", "start:api", flag], {
      PGLITE_DIR: fresh,
      PORT: "0",
    })
    expect(res).toMatchObject({ code: 0, stderr: "" })
    expect(res.stdout).toStartWith("Usage: bun run start:api")
    expect(res.stdout).toContain("DATABASE_URL")
  }
  const wrong = await run(["bun", "api/src/main.ts", "--prot", "9000"], { PGLITE_DIR: fresh })
  expect(wrong.code).toBe(1)
  expect(wrong.stderr).toContain("unknown option --prot")
  expect(wrong.stderr).toContain("Run bun run start:api --help for usage.")
  expect(existsSync(fresh)).toBe(false)
})

test("SIGTERM while the bot's lease request is waiting for deliveries: it gets an empty lease and the API exits 0 at once", async () => {
  const serviceKey = generateApiKey()
  const api = await startApi({
    PGLITE_DIR: join(tmp, "pglite-lease"),
    TELEGRAM_BOT_SERVICE_KEY: serviceKey,
  })
  const lease = fetch(`${api.base}/telegram/deliveries/lease`, {
    method: "POST",
    headers: { authorization: `Bearer ${serviceKey}`, "content-type": "application/json" },
    body: JSON.stringify({ wait_seconds: 25 }),
  })
  // The lease is parked once the metrics count it.
  for (;;) {
    const metrics = await (await fetch(`${api.base.replace(/\/api$/, "")}/metrics`)).text()
    if (/^nps_delivery_leases_waiting 1$/m.test(metrics)) break
    await Bun.sleep(20)
  }
  const { code, ms } = await stop(api)
  expect(code).toBe(0)
  // The contract's bound; the 25 s long poll would otherwise outlast the 8 s shutdown budget.
  expect(ms).toBeLessThan(10_000)
  const answered = await lease
  expect(answered.status).toBe(200)
  expect(((await answered.json()) as { deliveries: unknown[] }).deliveries).toEqual([])
  expect(api.output()).not.toContain("shutdown budget exceeded")
})
