// `bun run dev` as a newcomer meets it: no configuration, input piped into the terminal chat.
// The launcher must seed the demo data, start the API and the bot against the local Bot API
// stand-in, answer /start, follow the printed one-tap t.me link, answer /status, /unlink and
// /link <demo key>, stop cleanly at the end of input, and reuse everything on a second run.
import { afterAll, expect, test } from "bun:test"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ROOT } from "./helpers"

const scratch = mkdtempSync(join(tmpdir(), "nps-ops-dev-"))
const running = new Set<Bun.Subprocess>()
afterAll(() => {
  for (const proc of running) proc.kill("SIGKILL")
  rmSync(scratch, { recursive: true, force: true })
})

// Set but empty, so a developer's .env (which Bun loads) cannot switch on real Telegram, Postgres
// or other settings under the test; empty counts as unset everywhere.
const UNSET = [
  "NPS_BOT_TOKEN",
  "DATABASE_URL",
  "TELEGRAM_BOT_SERVICE_KEY",
  "TELEGRAM_API_ROOT",
  "TELEGRAM_BOT_API_URL",
  "TELEGRAM_BOT_USERNAME",
  "TELEGRAM_RATE_LIMIT",
  "JWT_SECRET",
  "HOST",
  "NODE_ENV",
  "LOG_LEVEL",
]

interface DevRun {
  /** Resolves with the first match of `pattern` in stdout (rejects when the launcher exits). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>
  type(lines: string[]): void
  /** Types lines and keeps the input open. */
  say(lines: string[]): void
  exited: Promise<number>
  stdout(): string
  /** Ctrl-C at the terminal: SIGINT to the process group (needs `terminal: true`). */
  interrupt(): void
}

function startDev(
  args: string[] = [],
  { terminal = false, env = {} }: { terminal?: boolean; env?: Record<string, string> } = {},
): DevRun {
  // terminal: in a process group of its own (setsid), as a shell runs a foreground job, so that
  // Ctrl-C can be sent the way a terminal sends it: to the whole group.
  const argv = ["bun", "run", "dev", ...args]
  const proc = Bun.spawn(terminal ? ["setsid", ...argv] : argv, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? scratch,
      ...Object.fromEntries(UNSET.map((name) => [name, ""])),
      PGLITE_DIR: join(scratch, "data", "pglite"),
      PORT: "0",
      NO_COLOR: "1",
      ...env,
    },
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  })
  running.add(proc)
  let out = ""
  const listeners = new Set<() => void>()
  void (async () => {
    const decoder = new TextDecoder()
    for await (const chunk of proc.stdout) {
      out += decoder.decode(chunk, { stream: true })
      for (const listener of [...listeners]) listener()
    }
  })()
  const exited = proc.exited.then((code) => {
    running.delete(proc)
    for (const listener of [...listeners]) listener()
    return code
  })
  void new Response(proc.stderr).text()
  return {
    waitFor(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = out.match(pattern)
          if (match) return finish(undefined, match)
          if (proc.exitCode !== null)
            finish(new Error(`bun run dev exited (${proc.exitCode}) before ${pattern}:\n${out}`))
        }
        const finish = (error?: Error, match?: RegExpMatchArray) => {
          clearTimeout(timer)
          listeners.delete(check)
          if (error) reject(error)
          else resolve(match as RegExpMatchArray)
        }
        const timer = setTimeout(
          () => finish(new Error(`no ${pattern} within ${timeoutMs} ms:\n${out}`)),
          timeoutMs,
        )
        listeners.add(check)
        check()
      })
    },
    type(lines) {
      proc.stdin.write(lines.map((line) => `${line}\n`).join(""))
      proc.stdin.end() // the end of input ends the session, as Ctrl-D does
    },
    say(lines) {
      proc.stdin.write(lines.map((line) => `${line}\n`).join(""))
      proc.stdin.flush()
    },
    exited,
    stdout: () => out,
    interrupt: () => process.kill(-proc.pid, "SIGINT"),
  }
}

test("bun run dev --help prints its usage and starts nothing; an unknown option is an error", async () => {
  const help = startDev(["--help"])
  expect(await help.exited).toBe(0)
  expect(help.stdout()).toStartWith("Usage: bun run dev\n")
  expect(help.stdout()).toContain("NPS_BOT_TOKEN")
  const wrong = startDev(["--port", "9000"])
  expect(await wrong.exited).toBe(1)
  expect(existsSync(join(scratch, "data"))).toBe(false) // no database was prepared
})

/** The chat part of the output: from the first `you ›` on. */
const transcriptOf = (out: string) => out.slice(out.indexOf("you › "))

test("with no configuration: demo data, /start, the printed t.me link, /status, /unlink and /link <demo key> in the terminal chat; a second run reuses it all", async () => {
  const dev = startDev()
  const [, key] = await dev.waitFor(/demo key +(nps_[A-Za-z0-9_-]{43})/)
  const [, url, token] = await dev.waitFor(
    /link +(https:\/\/t\.me\/NpsOracleDevBot\?start=([A-Za-z0-9_-]{1,64}))\s/,
  )
  await dev.waitFor(/You are chatting with the bot/)
  expect(dev.stdout()).toContain("Demo (1990-01-02), Ada Lovelace (1815-12-10)")
  dev.type(["/start", url as string, "/status", "/unlink", `/link ${key}`])
  expect(await dev.exited).toBe(0)

  const out = dev.stdout()
  const chat = transcriptOf(out)
  const turns = chat.split(/\n(?=you › )/)
  expect(turns).toHaveLength(5)
  const [start = "", tap = "", status = "", unlink = "", link = ""] = turns
  expect(start).toStartWith("you › /start\nbot › ")
  expect(start).toContain("NPS Oracle Bot")
  expect(start).toContain("/link")
  expect(tap).toContain(`(you opened the link: Telegram sends /start ${token})`)
  expect(tap).toContain("Account linked")
  expect(tap).toContain("Welcome, demo")
  expect(status).toContain("demo")
  expect(status).toContain("user") // the role
  expect(status).toMatch(/profiles\D*2\b/i) // two Oracle profiles
  expect(unlink).toContain("unlinked")
  expect(link).toContain("(the bot deleted your message)")
  expect(link).toContain("Account linked")
  expect(link).toContain("Welcome, demo")
  expect(out).toContain("stopped (api exit 0, bot exit 0)")

  // A second run reuses the data: the same demo key, and the chat is still linked; the link
  // token is a fresh one (the last was spent).
  const again = startDev()
  const [, sameKey] = await again.waitFor(/demo key +(nps_[A-Za-z0-9_-]{43})/)
  expect(sameKey).toBe(key as string)
  const [, freshToken] = await again.waitFor(/link +https:\/\/t\.me\/\w+\?start=([\w-]+)/)
  expect(freshToken).not.toBe(token as string)
  expect(again.stdout()).toContain("kept from the last run")
  await again.waitFor(/You are chatting with the bot/)
  again.type(["/status"])
  expect(await again.exited).toBe(0)
  const second = transcriptOf(again.stdout())
  expect(second).toStartWith("you › /status\nbot › ")
  expect(second).toContain("demo")
  expect(second).not.toContain("Not linked")
}, 180_000)

test("bun run admin notify, in another terminal while dev runs, reaches the terminal chat", async () => {
  const dev = startDev()
  const [, url] = await dev.waitFor(
    /link +(https:\/\/t\.me\/NpsOracleDevBot\?start=[A-Za-z0-9_-]{1,64})\s/,
  )
  const [hint] = await dev.waitFor(/notify +.*bun run admin notify --username demo .*/)
  expect(hint).toContain("PGLITE_DIR=")
  await dev.waitFor(/You are chatting with the bot/)
  dev.say([url as string])
  await dev.waitFor(/Account linked/)

  const text = "Your daily Oracle summary is ready."
  const admin = Bun.spawn(
    ["bun", "run", "--silent", "admin", "notify", "--username", "demo", "--text", text],
    {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? "",
        PGLITE_DIR: join(scratch, "data", "pglite"),
        DATABASE_URL: "",
      },
      stdout: "pipe",
      stderr: "pipe",
    },
  )
  expect(await admin.exited).toBe(0)
  const said = await new Response(admin.stdout).text()
  expect(said).toContain("queued for 1 chat")
  await dev.waitFor(new RegExp(`bot › ${text}`))

  // The banner's follow-up works as printed: its key may read what the admin CLI sent.
  const [, follow, auth] = (await dev.waitFor(
    /follow it: curl -s (\S+\/telegram\/notifications\/)<id> -H "Authorization: Bearer (nps_[\w-]{43})"/,
  )) as unknown as [string, string, string]
  const id = /notification ([0-9a-f-]{36}) queued/.exec(said)?.[1]
  const followed = await fetch(`${follow}${id}`, { headers: { authorization: `Bearer ${auth}` } })
  expect(followed.status).toBe(200)
  expect(await followed.json()).toMatchObject({ id, deliveries: [{ telegram_chat_id: 100200300 }] })
  dev.type(["/status"])
  expect(await dev.exited).toBe(0)
}, 120_000)

test("Ctrl-C stops the stack cleanly: a stopped line, exit 0, and both services' shutdown in their logs", async () => {
  const dir = join(scratch, "ctrl-c")
  const dev = startDev([], { terminal: true, env: { PGLITE_DIR: join(dir, "pglite") } })
  await dev.waitFor(/You are chatting with the bot/, 60_000)
  dev.interrupt()
  expect(await dev.exited).toBe(0)
  expect(dev.stdout()).toContain("stopping (Ctrl-C)")
  expect(dev.stdout()).toContain("stopped (api exit 0, bot exit 0)")
  const api = readFileSync(join(dir, "dev", "api.log"), "utf8")
  const bot = readFileSync(join(dir, "dev", "bot.log"), "utf8")
  expect(api).toContain('"msg":"shutting down"')
  expect(api).toContain('"msg":"stopped"')
  expect(bot).toContain('"msg":"shutting down"')
  expect(bot).toContain('"msg":"bot stopped"')
}, 90_000)

test("a second bun run dev on the same data (another PORT) refuses in a sentence and leaves the first one's logs alone", async () => {
  const dir = join(scratch, "twice")
  const env = { PGLITE_DIR: join(dir, "pglite") }
  const first = startDev([], { env })
  await first.waitFor(/You are chatting with the bot/, 60_000)
  const apiLog = join(dir, "dev", "api.log")
  const before = readFileSync(apiLog, "utf8")
  expect(before).toContain('"msg":"api listening"')

  const second = startDev([], { env: { ...env, PORT: "0" } })
  expect(await second.exited).toBe(1)
  expect(second.stdout()).toMatch(/Another bun run dev \(pid \d+\) is already running on /)
  expect(second.stdout()).toContain("PGLITE_DIR=")
  expect(second.stdout()).not.toMatch(/[{}]|DatabaseLockedError|^\s+at /m)
  const after = readFileSync(apiLog, "utf8")
  expect(after.startsWith(before)).toBe(true) // not truncated
  expect(after).not.toContain("\0")

  first.type(["/help"])
  expect(await first.exited).toBe(0)
  // Once the first has stopped, the data is free again.
  const third = startDev([], { env })
  await third.waitFor(/You are chatting with the bot/, 60_000)
  third.type([])
  expect(await third.exited).toBe(0)
}, 150_000)
