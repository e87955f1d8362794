// Leasing and reporting cost a fixed number of statements per batch, whatever its size (issue
// 20): at a paid broadcast's 1,000 messages a second, statements per delivery made the bot's
// reports fall behind its sends. Counted through a Db that tallies every statement begun.
import { beforeEach, expect, test } from "bun:test"
import { telegramLinks } from "@nps/db"
import { counting } from "./counting-db"
import { describeEachDb, makeApp, req, seedServiceKey, seedUser } from "./helpers"

describeEachDb("statements per delivery batch", (ctx) => {
  let svcKey: string
  let notifierKey: string
  let nextChat = 70_000

  beforeEach(async () => {
    svcKey = (await seedServiceKey(ctx.db)).key
    notifierKey = (await seedUser(ctx.db, { username: "notifier", scopes: ["telegram:notify"] }))
      .key
  })

  /** Statements a lease of `size` deliveries and their report cost. */
  async function batchCost(size: number) {
    const { db, counter } = counting(ctx.db)
    const { app } = makeApp(db)
    for (let i = 0; i < size; i++) {
      const reader = await seedUser(ctx.db, { username: `reader${nextChat}` })
      await ctx.db
        .insert(telegramLinks)
        .values({ telegramChatId: nextChat++, userId: reader.user.id })
      const posted = await req(app, "POST", "/api/telegram/notifications", {
        token: notifierKey,
        body: { user_id: reader.user.id, text: `message ${i}` },
      })
      expect(posted.status).toBe(202)
    }
    // Warm: the service key's check is cached after its first use.
    await req(app, "GET", "/api/telegram/status/1", { token: svcKey })
    counter.n = 0
    const leased = await req(app, "POST", "/api/telegram/deliveries/lease", {
      token: svcKey,
      body: { max: size },
    })
    expect(leased.body.deliveries).toHaveLength(size)
    expect(leased.body.deliveries[0].text).toMatch(/^message /)
    const lease = counter.n
    counter.n = 0
    const reported = await req(app, "POST", "/api/telegram/deliveries/report", {
      token: svcKey,
      body: {
        results: leased.body.deliveries.map((d: { id: number }, i: number) => ({
          id: d.id,
          lease_id: leased.body.lease_id,
          ...(i % 2 ? { outcome: "sent" } : { outcome: "failed", error: "blocked" }),
        })),
      },
    })
    expect(reported.body).toEqual({ applied: size, stale: 0 })
    return { lease, report: counter.n }
  }

  test("a lease and a report cost as many statements for 40 deliveries as for 2", async () => {
    const small = await batchCost(2)
    const large = await batchCost(40)
    expect(large).toEqual(small)
    // The report: its one statement, then finishNotifications (the status update, the outbox).
    expect(large.report).toBeLessThanOrEqual(4)
  })
})
