// Demo data for `bun run dev`, written through the API's own service functions. Idempotent: a
// second run finds the demo user and its profiles, and reuses the demo key kept (raw keys are
// never stored in the database) in a git-ignored file beside the data — or mints a new one when
// that file is missing or its key no longer works. Every run also mints a fresh one-time link
// token (they live 10 minutes), the demo's one-tap link. An operator account, `demo-ops` (an admin
// nobody logs in as), holds a telegram:notify key: notifications sent with `bun run admin notify`
// have no sender, so only an admin's credential can follow them.
import { randomBytes } from "node:crypto"
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import type { Db } from "@nps/db"
import type { Scope } from "../../api/src/credentials"
import { createUser, findUser } from "../../api/src/modules/auth/service"
import { createKey, findActiveKey } from "../../api/src/modules/keys/service"
import { createProfile, listProfiles } from "../../api/src/modules/oracle/service"
import { createLinkToken } from "../../api/src/modules/telegram/service"

export const DEMO_USER = { username: "demo", password: "demo password" } as const
export const DEMO_PROFILES = [
  { name: "Demo", birthday: "1990-01-02" },
  { name: "Ada Lovelace", birthday: "1815-12-10" },
] as const
export const DEMO_KEY_NAME = "demo key (bun run dev)"
export const DEMO_OPS = "demo-ops"

export interface DemoSeed {
  username: string
  password: string
  /** A raw API key with oracle:read and oracle:write, for /link. */
  key: string
  /** False when the key was minted by this run. */
  keyReused: boolean
  /** An admin's telegram:notify key: sends notifications and reads any of them. */
  notifyKey: string
  /** A fresh one-time link token: `/start <token>` (or its t.me link) links the chat. */
  linkToken: string
  profiles: { name: string; birthday: string }[]
}

export async function seedDemo(db: Db, { keyFile }: { keyFile: string }): Promise<DemoSeed> {
  const user = (await findUser(db, DEMO_USER.username)) ?? (await createUser(db, { ...DEMO_USER }))

  const existing = await listProfiles(db, user.id)
  for (const profile of DEMO_PROFILES) {
    if (!existing.some((p) => p.name === profile.name)) await createProfile(db, user.id, profile)
  }
  const profiles = (await listProfiles(db, user.id)).map(({ name, birthday }) => ({
    name,
    birthday,
  }))

  const { token: linkToken } = await createLinkToken(
    db,
    { userId: user.id, botUsername: undefined },
    new Date(),
  )
  const { key, reused } = await keptKey(db, {
    userId: user.id,
    file: keyFile,
    name: DEMO_KEY_NAME,
    scopes: ["oracle:read", "oracle:write"],
  })
  const ops =
    (await findUser(db, DEMO_OPS)) ??
    (await createUser(db, {
      username: DEMO_OPS,
      password: randomBytes(24).toString("base64url"),
      role: "admin",
    }))
  const { key: notifyKey } = await keptKey(db, {
    userId: ops.id,
    file: join(dirname(keyFile), "notify-key"),
    name: "demo notify key (bun run dev)",
    scopes: ["telegram:notify"],
  })
  return { ...DEMO_USER, key, keyReused: reused, notifyKey, linkToken, profiles }
}

/** The raw key kept in `file` while it still works for `userId`, else a new one written there. */
async function keptKey(
  db: Db,
  input: { userId: string; file: string; name: string; scopes: Scope[] },
): Promise<{ key: string; reused: boolean }> {
  const saved = existsSync(input.file) ? readFileSync(input.file, "utf8").trim() : ""
  if (saved && (await findActiveKey(db, saved, new Date()))?.userId === input.userId)
    return { key: saved, reused: true }
  const { key } = await createKey(db, {
    userId: input.userId,
    name: input.name,
    scopes: input.scopes,
  })
  mkdirSync(dirname(input.file), { recursive: true })
  writeFileSync(input.file, `${key}\n`, { mode: 0o600 })
  chmodSync(input.file, 0o600)
  return { key, reused: false }
}
