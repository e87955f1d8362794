// Demo data for `bun run dev`, written through the API's own service functions. Idempotent: a
// second run finds the demo user and its profiles, and reuses the demo key kept (raw keys are
// never stored in the database) in a git-ignored file beside the data — or mints a new one when
// that file is missing or its key no longer works. Every run also mints a fresh one-time link
// token (they live 10 minutes), the demo's one-tap link.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname } from "node:path"
import type { Db } from "@nps/db"
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

export interface DemoSeed {
  username: string
  password: string
  /** A raw API key with oracle:read and oracle:write, for /link. */
  key: string
  /** False when the key was minted by this run. */
  keyReused: boolean
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

  const saved = existsSync(keyFile) ? readFileSync(keyFile, "utf8").trim() : ""
  if (saved && (await findActiveKey(db, saved, new Date()))?.userId === user.id)
    return { ...DEMO_USER, key: saved, keyReused: true, linkToken, profiles }

  const { key } = await createKey(db, {
    userId: user.id,
    name: DEMO_KEY_NAME,
    scopes: ["oracle:read", "oracle:write"],
  })
  mkdirSync(dirname(keyFile), { recursive: true })
  writeFileSync(keyFile, `${key}\n`, { mode: 0o600 })
  chmodSync(keyFile, 0o600)
  return { ...DEMO_USER, key, keyReused: false, linkToken, profiles }
}
