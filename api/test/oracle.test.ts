import { expect, test } from "bun:test"
import { describeEachDb, makeApp, req, seedUser } from "./helpers"

describeEachDb("oracle profiles", (ctx) => {
  test("a key with oracle:write creates profiles that oracle:read lists, per user", async () => {
    const { app } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db)
    const bob = await seedUser(ctx.db, { username: "bob" })
    const created = await req(app, "POST", "/api/oracle/profiles", {
      token: alice.key,
      body: { name: "Me", birthday: "1990-01-02" },
    })
    expect(created.status).toBe(200)
    expect(created.body).toMatchObject({ name: "Me", birthday: "1990-01-02" })
    const mine = await req(app, "GET", "/api/oracle/profiles", { token: alice.key })
    expect(mine.body).toEqual([created.body])
    expect((await req(app, "GET", "/api/oracle/profiles", { token: bob.key })).body).toEqual([])
  })

  test("scopes are enforced: read-only keys cannot write, service keys cannot read", async () => {
    const { app } = makeApp(ctx.db)
    const reader = await seedUser(ctx.db, { scopes: ["oracle:read"] })
    const service = await seedUser(ctx.db, { username: "svc", scopes: ["telegram:service"] })
    const write = await req(app, "POST", "/api/oracle/profiles", {
      token: reader.key,
      body: { name: "Me", birthday: "1990-01-02" },
    })
    expect(write.status).toBe(403)
    expect(write.body.message).toContain("oracle:write")
    expect((await req(app, "GET", "/api/oracle/profiles", { token: service.key })).status).toBe(403)
  })

  test("birthdays must be real YYYY-MM-DD dates", async () => {
    const { app } = makeApp(ctx.db)
    const alice = await seedUser(ctx.db)
    for (const birthday of ["02/01/1990", "1990-02-30", "1990-13-01", ""]) {
      const res = await req(app, "POST", "/api/oracle/profiles", {
        token: alice.key,
        body: { name: "X", birthday },
      })
      expect(res.status).toBe(422)
      expect(res.body.message).toContain("birthday")
    }
  })
})
