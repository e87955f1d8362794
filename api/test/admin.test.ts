// The admin CLI as operators run it: `bun run admin <command>`, one process per command, on a
// PGlite directory (and a throwaway Postgres database when TEST_DATABASE_URL is set).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createDb, migrate, notifications, telegramLinks, users } from "@nps/db"
import { eq } from "drizzle-orm"
import postgres from "postgres"
import { hashApiKey } from "../src/credentials"
import { drivers, openTestDatabase } from "./helpers"
import { ROOT, run } from "./run"

// These tests start real processes and PGlite (seconds each on a busy machine).
setDefaultTimeout(30_000)

const tmp = mkdtempSync(join(tmpdir(), "nps-admin-"))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

const COMMANDS = [
  "create-user",
  "list-users",
  "deactivate-user",
  "create-key",
  "list-keys",
  "revoke-key",
  "notify",
  "list-webhooks",
  "gen-key",
]
const PASSWORD = "a long enough password"

/** `bun run admin …` on a directory that must never come into existence. */
const untouched = join(tmp, "must-not-exist")
const adminNoDb = (...args: string[]) =>
  run(["bun", "run", "--silent", "admin", ...args], { PGLITE_DIR: untouched })

test("admin --help lists every command; each command's --help / -h prints its usage and touches no database", async () => {
  const overview = await adminNoDb("--help")
  expect(overview).toMatchObject({ code: 0, stderr: "" })
  expect(overview.stdout).toStartWith("Usage: bun run admin <command>")
  for (const command of COMMANDS) expect(overview.stdout).toContain(`  ${command} `)
  expect((await adminNoDb("-h")).stdout).toBe(overview.stdout)

  for (const command of COMMANDS) {
    for (const flag of ["--help", "-h"]) {
      // --help wins even after the command's other options: nothing runs.
      const res = await adminNoDb(command, "--json", flag)
      expect({ command, flag, code: res.code, stderr: res.stderr }).toEqual({
        command,
        flag,
        code: 0,
        stderr: "",
      })
      expect(res.stdout).toStartWith(`Usage: bun run admin ${command}`)
    }
  }
  expect((await adminNoDb("help", "list-keys")).stdout).toStartWith(
    "Usage: bun run admin list-keys --username U",
  )
  expect(existsSync(untouched)).toBe(false)
})

test("unknown commands and options are errors with a suggestion, before any database is opened", async () => {
  for (const [args, message] of [
    [["creat-user"], "unknown command creat-user (did you mean create-user?)"],
    [["list"], "unknown command list (did you mean list-users or list-keys or list-webhooks?)"],
    [["frobnicate"], "unknown command frobnicate"],
    [["create-user", "--usrname", "x"], "unknown option --usrname (did you mean --username?)"],
    // Options belong to their command: --scopes is create-key's, not create-user's.
    [["create-user", "--username", "x", "--scopes", "a"], "unknown option --scopes"],
    [["list-keys", "--username"], "--username needs a value"],
    [["gen-key", "extra"], "unexpected argument"],
    [["revoke-key", "--id", "42"], "--id must be a key id"],
    [["create-key", "--username", "u", "--name", "n", "--scopes", "root:all"], "unknown scope"],
    [["create-key", "--username", "u", "--name", "n", "--expires-days", "0"], "--expires-days"],
    [["create-user", "--username", "x", "--role", "root", "--password", PASSWORD], "--role"],
    [[], "no command given"],
  ] as const) {
    const res = await adminNoDb(...args, "--json")
    expect({ args, code: res.code, stdout: res.stdout }).toEqual({ args, code: 1, stdout: "" })
    expect(res.stderr).toStartWith("admin: ")
    expect(res.stderr).toContain(message)
  }
  expect(existsSync(untouched)).toBe(false)
})

test("passwords: at least 12 characters, never echoed in an error, and not both --password and --password-stdin", async () => {
  const short = await adminNoDb("create-user", "--username", "u", "--password", "Short-Pw9")
  expect(short.code).toBe(1)
  expect(short.stderr).toContain("at least 12 characters")
  expect(short.stderr).not.toContain("Short-Pw9")
  const both = await adminNoDb(
    "create-user",
    "--username",
    "u",
    "--password",
    PASSWORD,
    "--password-stdin",
  )
  expect(both.code).toBe(1)
  expect(both.stderr).toContain("not both")
  // No terminal, no flag: say how to give one rather than wait for input that cannot come.
  const none = await adminNoDb("create-user", "--username", "u")
  expect(none.code).toBe(1)
  expect(none.stderr).toContain("--password-stdin")
  expect(existsSync(untouched)).toBe(false)
})

test("gen-key prints a fresh key without touching a database", async () => {
  const a = await adminNoDb("gen-key")
  const b = await adminNoDb("gen-key", "--json")
  expect(a.stdout.trim()).toMatch(/^nps_[A-Za-z0-9_-]{43}$/)
  expect(JSON.parse(b.stdout).key).toMatch(/^nps_[A-Za-z0-9_-]{43}$/)
  expect(JSON.parse(b.stdout).key).not.toBe(a.stdout.trim())
  expect(existsSync(untouched)).toBe(false)
})

for (const driver of drivers()) {
  describe(`[${driver}]`, () => {
    let env: Record<string, string>
    let close = async () => {}
    beforeAll(async () => {
      // PGlite: a directory nobody has created yet (the first test below creates it).
      if (driver === "pglite") env = { PGLITE_DIR: join(tmp, "pglite") }
      else {
        const database = await openTestDatabase("postgres")
        close = database.close
        env = { DATABASE_URL: database.url as string, PGLITE_DIR: untouched }
      }
    })
    afterAll(() => close())
    const admin = (...args: string[]) => run(["bun", "run", "--silent", "admin", ...args], env)
    const json = async (...args: string[]) => {
      const res = await admin(...args, "--json")
      expect({ args, code: res.code, stderr: res.stderr }).toEqual({ args, code: 0, stderr: "" })
      // Exactly one JSON object and nothing else on stdout.
      expect(res.stdout.trim().split("\n")).toHaveLength(1)
      return JSON.parse(res.stdout)
    }

    if (driver === "pglite")
      test("create-user on a fresh PGlite directory migrates it first, as docs/api.md's Try it by hand does", async () => {
        const user = await admin("create-user", "--username", "alice", "--password", PASSWORD)
        expect(user.code).toBe(0)
        expect(user.stdout).toContain("created user alice")
        expect(user.stderr).toContain("migrated the embedded database")
        const key = await admin("create-key", "--username", "alice", "--name", "phone", "--json")
        expect(key.code).toBe(0)
        expect(key.stderr).toBe("") // already migrated: nothing to say
        expect(JSON.parse(key.stdout).key).toMatch(/^nps_/)
      })

    test("the password prompt does not echo what is typed and asks twice", async () => {
      let screen = ""
      let answered = 0
      const secret = "typed at a real terminal"
      const proc = Bun.spawn(
        ["bun", "api/src/admin.ts", "create-user", "--username", "carol", "--json"],
        {
          cwd: ROOT,
          env: { PATH: process.env.PATH ?? "", DATABASE_URL: "", PGLITE_DIR: "", ...env },
          terminal: {
            data(terminal, data) {
              screen += new TextDecoder().decode(data)
              // Type once each prompt is on the screen (raw mode is on by then).
              const prompts = screen.match(/Password: |Repeat it: /g)?.length ?? 0
              while (answered < prompts) {
                answered++
                terminal.write(`${secret}\r`)
              }
            },
          },
        },
      )
      expect(await proc.exited).toBe(0)
      expect(answered).toBe(2)
      expect(screen).toContain('"username":"carol"')
      expect(screen).not.toContain(secret)
      // The password really is the typed one.
      const login = await run(
        [
          "bun",
          "-e",
          `import { createDb } from "@nps/db"; import { login } from "./api/src/modules/auth/service";
           const { db, close } = await createDb(process.env.DATABASE_URL ? { url: process.env.DATABASE_URL } : { pgliteDir: process.env.PGLITE_DIR });
           const jwt = { sign: async () => "ok", verify: async () => null };
           try { console.log((await login({ db, jwt }, "carol", ${JSON.stringify(secret)})).access_token) }
           finally { await close() }`,
        ],
        env,
      )
      expect(login.stdout.trim()).toBe("ok")
    })

    test("create, list, revoke and deactivate: each prints exactly one JSON object", async () => {
      const ops = await json(
        "create-user",
        "--username",
        "ops",
        "--password",
        PASSWORD,
        "--role",
        "admin",
      )
      expect(ops).toEqual({ id: expect.any(String), username: "ops", role: "admin" })
      const piped = await run(
        [
          "bun",
          "run",
          "--silent",
          "admin",
          "create-user",
          "--username",
          "piped",
          "--password-stdin",
          "--json",
        ],
        env,
        { stdin: `${PASSWORD}\n` },
      )
      expect(piped.code).toBe(0)

      const key = await json(
        "create-key",
        "--username",
        "ops",
        "--name",
        "bot",
        "--scopes",
        "telegram:service",
        "--expires-days",
        "30",
      )
      expect(Object.keys(key).sort()).toEqual(["id", "key", "prefix", "scopes"])
      expect(key.key).toMatch(/^nps_[A-Za-z0-9_-]{43}$/)
      expect(key.scopes).toEqual(["telegram:service"])

      const { users } = await json("list-users")
      // Oldest first: the two just created come last.
      expect(users.map((u: { username: string }) => u.username).slice(-2)).toEqual(["ops", "piped"])
      expect(users.find((u: { username: string }) => u.username === "ops")).toEqual({
        id: ops.id,
        username: "ops",
        role: "admin",
        is_active: true,
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      })

      const { keys } = await json("list-keys", "--username", "ops")
      expect(keys).toEqual([
        {
          id: key.id,
          name: "bot",
          prefix: key.prefix,
          scopes: ["telegram:service"],
          is_active: true,
          created_at: expect.any(String),
          last_used_at: null,
          expires_at: expect.any(String),
        },
      ])

      expect(await json("revoke-key", "--id", key.id)).toEqual({ id: key.id, is_active: false })
      expect((await json("list-keys", "--username", "ops")).keys[0].is_active).toBe(false)
      expect(await json("deactivate-user", "--username", "ops")).toEqual({
        id: ops.id,
        is_active: false,
      })
    })

    test("list-keys never shows the raw key or its hash, in text or JSON", async () => {
      await json("create-user", "--username", "kim", "--password", PASSWORD)
      const { key } = await json("create-key", "--username", "kim", "--name", "phone")
      const text = await admin("list-keys", "--username", "kim")
      expect(text.code).toBe(0)
      expect(text.stdout).toContain("phone")
      const asJson = await admin("list-keys", "--username", "kim", "--json")
      for (const out of [text.stdout, asJson.stdout]) {
        expect(out).not.toContain(key)
        expect(out).not.toContain(hashApiKey(key))
      }
      const users = await admin("list-users")
      expect(users.stdout).toMatch(/^USERNAME\s+ROLE\s+ACTIVE/)
      expect(users.stdout).toContain("kim")
    })

    test("errors go to stderr with exit 1 and never repeat the password", async () => {
      await json("create-user", "--username", "dup", "--password", PASSWORD)
      const again = await admin(
        "create-user",
        "--username",
        "dup",
        "--password",
        "TopSecretPassword!",
        "--json",
      )
      expect(again).toMatchObject({ code: 1, stdout: "" })
      expect(again.stderr).toContain("already taken")
      expect(again.stderr).not.toContain("TopSecretPassword")
      for (const args of [
        ["create-key", "--username", "nobody", "--name", "x"],
        ["list-keys", "--username", "nobody"],
        ["revoke-key", "--id", "00000000-0000-0000-0000-000000000000"],
        ["deactivate-user", "--username", "nobody"],
      ]) {
        const res = await admin(...args, "--json")
        expect({ args, code: res.code, stdout: res.stdout }).toEqual({ args, code: 1, stdout: "" })
        expect(res.stderr).toMatch(/^admin: (no user named nobody|No such API key|No user with)/)
      }
    })

    if (driver === "postgres") {
      test("on a Postgres database without the schema it says to run db:migrate", async () => {
        const adminUrl = process.env.TEST_DATABASE_URL as string
        const name = `nps_admin_${crypto.randomUUID().slice(0, 8)}`
        const sql = postgres(adminUrl, { max: 1, onnotice: () => {} })
        await sql.unsafe(`create database ${name}`)
        try {
          const url = new URL(adminUrl)
          url.pathname = `/${name}`
          const res = await run(["bun", "run", "--silent", "admin", "list-users"], {
            DATABASE_URL: url.toString(),
          })
          expect(res.code).toBe(1)
          expect(res.stderr).toContain("run bun run db:migrate")
        } finally {
          await sql.unsafe(`drop database if exists ${name} with (force)`)
          await sql.end()
        }
      })
    }
  })
}

describe("notify (PGlite)", () => {
  const PGLITE_DIR = join(tmp, "notify-pglite")
  const admin = (...args: string[]) =>
    run(["bun", "run", "--silent", "admin", ...args], { PGLITE_DIR })
  beforeAll(async () => {
    const { db, close } = await createDb({ pgliteDir: PGLITE_DIR })
    await migrate(db)
    await close()
  })

  test("notify sends to the user's reachable chats and prints the notification as POST answers it", async () => {
    await admin("create-user", "--username", "reader", "--password", PASSWORD, "--json")
    const database = await createDb({ pgliteDir: PGLITE_DIR })
    try {
      const [user] = await database.db.select().from(users).where(eq(users.username, "reader"))
      await database.db.insert(telegramLinks).values([
        { telegramChatId: 5_550_001, userId: user?.id as string },
        { telegramChatId: 5_550_002, userId: user?.id as string, blockedAt: new Date() },
      ])
    } finally {
      await database.close()
    }
    const text = "Maintenance tonight at 22:00 UTC.\nPlain *text*, sent as is."
    const sent = await admin("notify", "--username", "reader", "--text", text, "--json")
    expect(sent.stderr).toBe("")
    const n = JSON.parse(sent.stdout)
    expect(n).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      status: "queued",
      deliveries: [{ telegram_chat_id: 5_550_001, status: "queued" }],
    })
    const human = await admin("notify", "--username", "reader", "--text", "again")
    expect(human.stdout).toContain("queued for 1 chat")

    const check = await createDb({ pgliteDir: PGLITE_DIR })
    try {
      const [row] = await check.db.select().from(notifications).where(eq(notifications.id, n.id))
      expect(row).toMatchObject({ text, status: "queued", createdBy: null })
    } finally {
      await check.close()
    }

    for (const args of [
      ["notify", "--username", "nobody", "--text", "hi"],
      ["notify", "--username", "reader", "--text", "   "],
      ["notify", "--username", "reader", "--text", "x".repeat(4097)],
      ["notify", "--username", "reader"],
    ]) {
      const res = await admin(...args, "--json")
      expect([res.code, res.stdout]).toEqual([1, ""])
      expect(res.stderr).toMatch(/^admin: /)
    }
  })

  test("notify takes the POST body's options as flags, with the same checks", async () => {
    const sendAt = new Date(Date.now() + 3_600_000).toISOString()
    const sent = await admin(
      "notify",
      "--username",
      "reader",
      "--text",
      "<b>Down</b> tonight",
      "--format",
      "html",
      "--button",
      "Status=https://status.example.com/?a=1",
      "--button",
      "App=tg://resolve?domain=nps_bot|Help=https://example.com/help",
      "--silent",
      "--protect-content",
      "--no-link-preview",
      "--category",
      "maintenance",
      "--priority",
      "high",
      "--send-at",
      sendAt,
      "--ru",
      "<b>Не работает</b> сегодня",
      "--json",
    )
    expect(sent.stderr).toBe("")
    const n = JSON.parse(sent.stdout)
    expect(n.status).toBe("scheduled")
    const check = await createDb({ pgliteDir: PGLITE_DIR })
    try {
      const [row] = await check.db.select().from(notifications).where(eq(notifications.id, n.id))
      expect(row).toMatchObject({ category: "maintenance", priority: "high" })
      expect(row?.sendAt?.toISOString()).toBe(sendAt)
      const common = {
        parse_mode: "HTML",
        disable_notification: true,
        protect_content: true,
        link_preview_options: { is_disabled: true },
        reply_markup: {
          inline_keyboard: [
            [{ text: "Status", url: "https://status.example.com/?a=1" }],
            [
              { text: "App", url: "tg://resolve?domain=nps_bot" },
              { text: "Help", url: "https://example.com/help" },
            ],
          ],
        },
      }
      expect(row?.messages).toEqual({
        en: [{ text: "<b>Down</b> tonight", ...common }],
        ru: [{ text: "<b>Не работает</b> сегодня", ...common }],
      })
    } finally {
      await check.close()
    }
    for (const [args, says] of [
      [["--format", "html", "--text", "<div>x</div>"], "Invalid HTML at character 0"],
      [["--text", "x", "--button", "Open"], "--button is invalid"],
      [["--text", "x", "--priority", "urgent"], "--priority is invalid"],
      [["--text", "x", "--send-at", "tomorrow"], "--send-at is invalid"],
    ] as const) {
      const res = await admin("notify", "--username", "reader", ...args, "--json")
      expect([res.code, res.stdout]).toEqual([1, ""])
      expect(res.stderr).toContain(says)
    }
  })

  test("admin commands work while a running API holds the PGlite directory (through its socket)", async () => {
    const api = await createDb({ pgliteDir: PGLITE_DIR, share: true })
    try {
      let woken = () => {}
      const heard = new Promise<void>((resolve) => {
        woken = resolve
      })
      await api.listen("nps_deliveries", () => woken())
      const user = await admin("create-user", "--username", "live", "--password", PASSWORD)
      expect(user.code).toBe(0)
      const [row] = await api.db.select().from(users).where(eq(users.username, "live"))
      await api.db
        .insert(telegramLinks)
        .values({ telegramChatId: 5_550_003, userId: row?.id as string })
      const sent = await admin("notify", "--username", "live", "--text", "while you run", "--json")
      expect(sent.stderr).toBe("")
      expect(JSON.parse(sent.stdout)).toMatchObject({ status: "queued" })
      // The API's waiting leases hear of it at once.
      await heard
    } finally {
      await api.close()
    }
  })
})
