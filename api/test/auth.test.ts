import { expect, test } from "bun:test"
import { apiKeys } from "@nps/db"
import { eq } from "drizzle-orm"
import { JWT_TTL_SECONDS } from "../src/credentials"
import { deactivateUser } from "../src/modules/auth/service"
import { KEY_TRUST_MS, revokeKey } from "../src/modules/keys/service"
import { describeEachDb, makeApp, req, seedUser } from "./helpers"

describeEachDb("auth and API keys", (ctx) => {
  const login = async (
    app: ReturnType<typeof makeApp>["app"],
    username: string,
    password: string,
  ) => req(app, "POST", "/api/auth/login", { body: { username, password } })

  test("login returns a bearer JWT that /me accepts", async () => {
    const { app } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db)
    const res = await login(app, "alice", alice.password)
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ token_type: "bearer", expires_in: JWT_TTL_SECONDS })
    const me = await req(app, "GET", "/api/auth/me", { token: res.body.access_token })
    expect(me.body).toEqual({ id: alice.user.id, username: "alice", role: "user", is_active: true })
  })

  test("wrong password, unknown user and deactivated user all get the same 401", async () => {
    const { app } = makeApp(ctx.db)
    await seedUser(ctx.db)
    await seedUser(ctx.db, { username: "gone" })
    await deactivateUser(ctx.db, "gone")
    const replies = await Promise.all([
      login(app, "alice", "wrong"),
      login(app, "nobody", "wrong"),
      login(app, "gone", "correct horse battery staple"),
    ])
    for (const r of replies) {
      expect(r.status).toBe(401)
      expect(r.body).toEqual({ error: "unauthorized", message: "Wrong username or password" })
    }
  })

  test("a JWT stops working when it expires", async () => {
    let clock = new Date("2026-01-01T00:00:00Z")
    const { app } = makeApp(ctx.db, { now: () => clock })
    const alice = await seedUser(ctx.db)
    const token = (await login(app, "alice", alice.password)).body.access_token
    clock = new Date(clock.getTime() + (JWT_TTL_SECONDS - 5) * 1000)
    expect((await req(app, "GET", "/api/auth/me", { token })).status).toBe(200)
    clock = new Date(clock.getTime() + 10_000)
    expect((await req(app, "GET", "/api/auth/me", { token })).status).toBe(401)
  })

  test("a JWT signed with another secret is rejected", async () => {
    const { app } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db)
    const { createJwt } = await import("../src/credentials")
    const forged = await createJwt("some-other-secret-value-123456", () => new Date()).sign(
      alice.user.id,
    )
    expect((await req(app, "GET", "/api/auth/me", { token: forged })).status).toBe(401)
  })

  test("API keys: create returns the raw key once; list never shows it; revoke disables it", async () => {
    const { app } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db)
    const token = (await login(app, "alice", alice.password)).body.access_token
    const created = await req(app, "POST", "/api/auth/api-keys", {
      token,
      body: { name: "laptop" },
    })
    expect(created.status).toBe(200)
    expect(created.body.key).toMatch(/^nps_[A-Za-z0-9_-]{43}$/)
    expect(created.body.prefix).toBe(created.body.key.slice(0, 12))
    expect(created.body.scopes).toEqual(["oracle:read"])
    const [stored] = await ctx.db.select().from(apiKeys).where(eq(apiKeys.id, created.body.id))
    expect(stored?.keyHash).toBe(
      new Bun.CryptoHasher("sha256").update(created.body.key).digest("hex"),
    )

    const me = await req(app, "GET", "/api/auth/me", { token: created.body.key })
    expect(me.body.username).toBe("alice")

    const list = await req(app, "GET", "/api/auth/api-keys", { token })
    expect(list.body.map((k: { name: string }) => k.name).sort()).toEqual(["laptop", "test"])
    expect(list.text).not.toContain(created.body.key)
    expect(list.text).not.toContain(stored?.keyHash as string)

    const revoked = await req(app, "DELETE", `/api/auth/api-keys/${created.body.id}`, { token })
    expect(revoked.body).toEqual({ id: created.body.id, is_active: false })
    expect((await req(app, "GET", "/api/auth/me", { token: created.body.key })).status).toBe(401)
  })

  test("keys are managed with a JWT only, and only the owner can revoke", async () => {
    const { app } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db)
    const bob = await seedUser(ctx.db, { username: "bob" })
    expect((await req(app, "GET", "/api/auth/api-keys", { token: alice.key })).status).toBe(403)
    const bobToken = (await login(app, "bob", bob.password)).body.access_token
    const res = await req(app, "DELETE", `/api/auth/api-keys/${alice.keyId}`, { token: bobToken })
    expect(res.status).toBe(404)
    expect((await req(app, "GET", "/api/auth/me", { token: alice.key })).status).toBe(200)
  })

  test("an expired key is rejected", async () => {
    const { app } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db)
    const token = (await login(app, "alice", alice.password)).body.access_token
    const created = await req(app, "POST", "/api/auth/api-keys", {
      token,
      body: { name: "short", expires_days: 1 },
    })
    expect((await req(app, "GET", "/api/auth/me", { token: created.body.key })).status).toBe(200)
    const later = makeApp(ctx.db, { now: () => new Date(Date.now() + 86_400_000 + 1000) })
    expect((await req(later.app, "GET", "/api/auth/me", { token: created.body.key })).status).toBe(
      401,
    )
  })

  test("only admins may mint telegram:service keys", async () => {
    const { app } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db)
    const root = await seedUser(ctx.db, { username: "root", role: "admin" })
    const body = { name: "bot", scopes: ["telegram:service"] }
    const userToken = (await login(app, "alice", alice.password)).body.access_token
    expect((await req(app, "POST", "/api/auth/api-keys", { token: userToken, body })).status).toBe(
      403,
    )
    const adminToken = (await login(app, "root", root.password)).body.access_token
    const res = await req(app, "POST", "/api/auth/api-keys", { token: adminToken, body })
    expect(res.status).toBe(200)
    expect(res.body.scopes).toEqual(["telegram:service"])
  })

  test("credentials are checked before the body: no or weak credentials never get a 422", async () => {
    const { app } = makeApp(ctx.db)
    const reader = await seedUser(ctx.db, { scopes: ["oracle:read"] })
    const bad = { name: 42, birthday: "someday" }
    const anonymous = await req(app, "POST", "/api/oracle/profiles", { body: bad })
    expect(anonymous.status).toBe(401)
    const weak = await req(app, "POST", "/api/oracle/profiles", { token: reader.key, body: bad })
    expect(weak.status).toBe(403)
    const keys = await req(app, "POST", "/api/auth/api-keys", { token: reader.key, body: {} })
    expect(keys.status).toBe(403)
  })

  test("a key of a deactivated user stops working", async () => {
    const { app } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db)
    await deactivateUser(ctx.db, "alice")
    expect((await req(app, "GET", "/api/auth/me", { token: alice.key })).status).toBe(401)
  })

  test("a key revoked, or its owner deactivated, by another process is refused within KEY_TRUST_MS", async () => {
    const changes = {
      "revoked (admin CLI)": (u: Awaited<ReturnType<typeof seedUser>>) =>
        revokeKey(ctx.db, u.keyId),
      "owner deactivated": (u: Awaited<ReturnType<typeof seedUser>>) =>
        deactivateUser(ctx.db, u.user.username),
    }
    for (const [name, change] of Object.entries(changes)) {
      let clock = new Date("2026-01-01T00:00:00Z")
      const { app } = makeApp(ctx.db, { now: () => clock })
      const user = await seedUser(ctx.db, { username: name.split(" ")[0] })
      expect((await req(app, "GET", "/api/auth/me", { token: user.key })).status).toBe(200)
      await change(user)
      clock = new Date(clock.getTime() + KEY_TRUST_MS)
      const after = await req(app, "GET", "/api/auth/me", { token: user.key })
      expect({ name, status: after.status }).toEqual({ name, status: 401 })
    }
  })

  test("a key in use expires on time", async () => {
    let clock = new Date("2026-01-01T00:00:00Z")
    const { app } = makeApp(ctx.db, { now: () => clock })
    const alice = await seedUser(ctx.db)
    const token = (await login(app, "alice", alice.password)).body.access_token
    const created = await req(app, "POST", "/api/auth/api-keys", {
      token,
      body: { name: "short", expires_days: 1 },
    })
    const expiry = clock.getTime() + 86_400_000
    clock = new Date(expiry - 1)
    expect((await req(app, "GET", "/api/auth/me", { token: created.body.key })).status).toBe(200)
    clock = new Date(expiry)
    expect((await req(app, "GET", "/api/auth/me", { token: created.body.key })).status).toBe(401)
  })
})
