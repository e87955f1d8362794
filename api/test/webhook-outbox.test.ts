// The outbox's leasing rules, with an injected clock: a due message goes to one lease at a time;
// a lease that ran out may be taken again, and then only the new holder's outcome counts.
import { expect, test } from "bun:test"
import { webhookMessages } from "@nps/db"
import { createNotification } from "../src/modules/notifications/service"
import { leaseMessages, settleMessage } from "../src/modules/webhooks/outbox"
import { createEndpoint } from "../src/modules/webhooks/service"
import { describeEachDb, seedUser } from "./helpers"

describeEachDb("webhook outbox", (ctx) => {
  test("one holder at a time; after a lease runs out only the new holder settles the attempt", async () => {
    const t0 = new Date("2026-06-01T00:00:00Z")
    const at = (ms: number) => new Date(t0.getTime() + ms)
    const sender = await seedUser(ctx.db, { username: "svc", scopes: ["telegram:notify"] })
    await seedUser(ctx.db, { username: "carol" })
    const policy = { allowPrivate: true, resolve: async () => [] }
    await createEndpoint(ctx.db, policy, sender.user.id, { url: "http://127.0.0.1:9/x" })
    // Finished at birth (no chat): its event is written in the same transaction.
    await createNotification(
      ctx.db,
      { username: "carol", text: "hi" },
      { userId: sender.user.id },
      t0,
    )
    // Not before it finished.
    expect(await leaseMessages(ctx.db, { max: 10, leaseMs: 1000 }, at(-1))).toEqual([])

    const [first] = await leaseMessages(ctx.db, { max: 10, leaseMs: 1000 }, t0)
    expect(first?.attempts).toBe(1)
    expect(await leaseMessages(ctx.db, { max: 10, leaseMs: 1000 }, at(999))).toEqual([])
    const [second] = await leaseMessages(ctx.db, { max: 10, leaseMs: 1000 }, at(1000))
    expect(second?.msgId).toBe(first?.msgId ?? "")
    expect(second?.attempts).toBe(2)

    // The stale holder's late answer changes nothing…
    await settleMessage(ctx.db, first as NonNullable<typeof first>, { kind: "sent" })
    expect((await ctx.db.select().from(webhookMessages))[0]?.status).toBe("pending")
    // …the current one's does.
    await settleMessage(ctx.db, second as NonNullable<typeof second>, {
      kind: "retry",
      at: at(5000),
      error: "HTTP 500",
    })
    expect(await leaseMessages(ctx.db, { max: 10, leaseMs: 1000 }, at(4999))).toEqual([])
    const [third] = await leaseMessages(ctx.db, { max: 10, leaseMs: 1000 }, at(5000))
    await settleMessage(ctx.db, third as NonNullable<typeof third>, { kind: "sent" })
    const [row] = await ctx.db.select().from(webhookMessages)
    expect(row).toMatchObject({ status: "sent", attempts: 3, leasedUntil: null })
    expect(await leaseMessages(ctx.db, { max: 10, leaseMs: 1000 }, at(86_400_000))).toEqual([])
  })
})
