// A batch is accepted set-based: 1,000 items to a user with many chats are all queued, each chat's
// deliveries in the items' order, and the statements a batch costs do not grow with its size.
import { expect, test } from "bun:test"
import { notificationDeliveries, telegramLinks } from "@nps/db"
import { asc, eq } from "drizzle-orm"
import { counting } from "./counting-db"
import { describeEachDb, makeApp, req, seedUser } from "./helpers"

const CHATS = 30

describeEachDb("batches at scale", (ctx) => {
  const setUp = async () => {
    const sender = await seedUser(ctx.db, { username: "sender", scopes: ["telegram:notify"] })
    const bob = await seedUser(ctx.db, { username: "bob" })
    await ctx.db.insert(telegramLinks).values(
      Array.from({ length: CHATS }, (_, i) => ({
        telegramChatId: 9000 + i,
        userId: bob.user.id,
      })),
    )
    return sender
  }
  const batch = (app: ReturnType<typeof makeApp>["app"], key: string, size: number, tag: string) =>
    req(app, "POST", "/api/telegram/notifications/batch", {
      token: key,
      body: {
        notifications: Array.from({ length: size }, (_, i) => ({
          username: "bob",
          text: `${tag} ${i}`,
          idempotency_key: `${tag}-${i}`,
        })),
      },
    })

  test("1,000 items to a user with 30 chats: all queued, each chat's deliveries in item order", async () => {
    const sender = await setUp()
    const { app } = makeApp(ctx.db)
    const res = await batch(app, sender.key, 1000, "big")
    expect(res.status).toBe(200)
    const results = res.body.results as { status: number; id: string }[]
    expect(results.every((r) => r.status === 202)).toBe(true)
    expect(new Set(results.map((r) => r.id)).size).toBe(1000)
    const d = notificationDeliveries
    const chat = await ctx.db
      .select({ notificationId: d.notificationId })
      .from(d)
      .where(eq(d.telegramChatId, 9000 + CHATS - 1))
      .orderBy(asc(d.id))
    expect(chat.map((r) => r.notificationId)).toEqual(results.map((r) => r.id))
    const last = await req(app, "GET", `/api/telegram/notifications/${results[999]?.id}`, {
      token: sender.key,
    })
    expect(last.body.status).toBe("queued")
    expect(last.body.deliveries).toHaveLength(CHATS)
    // The same batch again replays every item: 200 and the same ids, nothing new queued.
    const again = await batch(app, sender.key, 1000, "big")
    expect(again.body.results).toEqual(results.map((r) => ({ status: 200, id: r.id })))
    expect(await ctx.db.$count(d)).toBe(1000 * CHATS)
  }, 120_000)

  test("the statements a batch costs do not grow with its size", async () => {
    const sender = await setUp()
    const { db, counter } = counting(ctx.db)
    const { app } = makeApp(db)
    const cost = async (size: number, tag: string) => {
      const before = counter.n
      expect((await batch(app, sender.key, size, tag)).status).toBe(200)
      return counter.n - before
    }
    await cost(1, "warm") // the sender's key is checked once, then cached
    const small = await cost(10, "small")
    expect(small).toBeGreaterThan(0)
    expect(await cost(1000, "large")).toBe(small)
  }, 120_000)
})
