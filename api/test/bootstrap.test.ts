import { expect, test } from "bun:test"
import { apiKeys } from "@nps/db"
import { eq } from "drizzle-orm"
import { ensureServiceKey } from "../src/bootstrap"
import { generateApiKey } from "../src/credentials"
import { describeEachDb, makeApp, req } from "./helpers"

describeEachDb("service key bootstrap", (ctx) => {
  test("makes the configured key a working telegram:service key, idempotently", async () => {
    const key = generateApiKey()
    await ensureServiceKey(ctx.db, key)
    await ensureServiceKey(ctx.db, key)
    await Promise.all([ensureServiceKey(ctx.db, key), ensureServiceKey(ctx.db, key)])
    const rows = await ctx.db.select().from(apiKeys)
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({ scopes: ["telegram:service"], isActive: true })
    const { app } = makeApp(ctx.db)
    expect((await req(app, "GET", "/api/telegram/status/1", { token: key })).body).toEqual({
      linked: false,
    })
  })

  test("a changed key replaces the old one", async () => {
    const oldKey = generateApiKey()
    const newKey = generateApiKey()
    await ensureServiceKey(ctx.db, oldKey)
    await ensureServiceKey(ctx.db, newKey)
    const { app } = makeApp(ctx.db)
    expect((await req(app, "GET", "/api/telegram/status/1", { token: oldKey })).status).toBe(401)
    expect((await req(app, "GET", "/api/telegram/status/1", { token: newKey })).status).toBe(200)
    // Rotating back re-activates the original row rather than duplicating it.
    await ensureServiceKey(ctx.db, oldKey)
    expect((await req(app, "GET", "/api/telegram/status/1", { token: oldKey })).status).toBe(200)
    expect(await ctx.db.select().from(apiKeys).where(eq(apiKeys.isActive, true))).toHaveLength(1)
  })
})
