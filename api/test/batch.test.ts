// POST /notifications/batch: 1,000 mixed items answer exactly as the same items sent one by one
// would (valid, invalid, unknown users, idempotency keys repeated inside the batch and from
// before it), in order; the envelope itself is checked as a whole.
import { beforeEach, expect, test } from "bun:test"
import { telegramLinks } from "@nps/db"
import { describeEachDb, makeApp, req, seedUser } from "./helpers"

type Seeded = Awaited<ReturnType<typeof seedUser>>

/** The same mix for any sender: each item names its kind in the text, keys repeat on purpose. */
function mixedItems(bobId: string): unknown[] {
  return Array.from({ length: 1000 }, (_, i) => {
    switch (i % 10) {
      case 0:
        return { username: "bob", text: `plain ${i}` }
      case 1:
        return { user_id: bobId, text: `by id ${i}`, idempotency_key: `k${i}` }
      case 2: // the key of item i-1 again, same body: a replay (200, the same id)
        return { user_id: bobId, text: `by id ${i - 1}`, idempotency_key: `k${i - 1}` }
      case 3: // the key of item i-2 again, another body: 409
        return { username: "bob", text: "different", idempotency_key: `k${i - 2}` }
      case 4:
        return { username: "nobody", text: "hi" }
      case 5:
        return { username: "bob", text: "" }
      case 6:
        return { username: "bob", user_id: bobId, text: "both" }
      case 7:
        return { username: "carol", text: `undeliverable ${i}`, idempotency_key: "shared" }
      case 8:
        if (i % 30 === 8) return "not an object"
        if (i % 30 === 18) return null
        return { username: "bob", text: "x".repeat(4097), extra: true }
      default:
        return { username: "bob", text: `key from before ${i}`, idempotency_key: "before" }
    }
  })
}

/** Results with ids replaced by the order in which each id first appeared. */
function normalise(results: { status: number; id?: string; error?: string; message?: string }[]) {
  const seen = new Map<string, number>()
  return results.map(({ id, ...rest }) => {
    if (id === undefined) return rest
    if (!seen.has(id)) seen.set(id, seen.size)
    return { ...rest, id: seen.get(id) }
  })
}

describeEachDb("notification batches", (ctx) => {
  let batcher: Seeded
  let single: Seeded
  let bob: Seeded

  beforeEach(async () => {
    batcher = await seedUser(ctx.db, { username: "batcher", scopes: ["telegram:notify"] })
    single = await seedUser(ctx.db, { username: "single", scopes: ["telegram:notify"] })
    bob = await seedUser(ctx.db, { username: "bob" })
    await seedUser(ctx.db, { username: "carol" })
    // A user with many chats: every one gets a delivery.
    await ctx.db
      .insert(telegramLinks)
      .values(
        Array.from({ length: 25 }, (_, i) => ({ telegramChatId: 7000 + i, userId: bob.user.id })),
      )
  })

  test("1,000 mixed items: per-item results exactly as the single POSTs answer, in order", async () => {
    const { app } = makeApp(ctx.db)
    const items = mixedItems(bob.user.id)
    // Each sender first used "before" for this body: later items under it replay or conflict.
    for (const token of [batcher.key, single.key])
      await req(app, "POST", "/api/telegram/notifications", {
        token,
        body: { username: "bob", text: "key from before 9", idempotency_key: "before" },
      })

    const batch = await req(app, "POST", "/api/telegram/notifications/batch", {
      token: batcher.key,
      body: { notifications: items },
    })
    expect(batch.status).toBe(200)
    expect(batch.body.results).toHaveLength(1000)

    const singles = []
    for (const item of items) {
      const res = await req(app, "POST", "/api/telegram/notifications", {
        token: single.key,
        body: item,
      })
      singles.push(
        res.status < 300
          ? { status: res.status, id: res.body.id as string }
          : { status: res.status, error: res.body.error, message: res.body.message },
      )
    }
    expect(normalise(batch.body.results)).toEqual(normalise(singles))
    // The mix really is mixed.
    const statuses = new Set(batch.body.results.map((r: { status: number }) => r.status))
    expect([...statuses].sort()).toEqual([200, 202, 404, 409, 422])
    const first = await req(app, "GET", `/api/telegram/notifications/${batch.body.results[0].id}`, {
      token: batcher.key,
    })
    expect(first.body.deliveries).toHaveLength(25)
  }, 240_000)

  test("the envelope: malformed, not a list, empty or over 1,000 items is refused whole", async () => {
    const { app } = makeApp(ctx.db)
    const post = (options: { body?: unknown; raw?: string; token?: string }) =>
      req(app, "POST", "/api/telegram/notifications/batch", { token: batcher.key, ...options })
    expect((await post({ raw: "{not json" })).status).toBe(400)
    for (const body of [{}, { notifications: "x" }, { notifications: [] }, []]) {
      const res = await post({ body })
      expect([res.status, res.body.error]).toEqual([422, "validation_error"])
    }
    const item = { username: "carol", text: "hi" }
    const tooMany = await post({ body: { notifications: Array(1001).fill(item) } })
    expect(tooMany.status).toBe(422)
    expect((await post({ body: { notifications: [item] }, token: bob.key })).status).toBe(403)
    const ok = await post({ body: { notifications: [item, { ...item, text: "" }] } })
    expect(ok.body.results).toEqual([
      { status: 202, id: expect.any(String) },
      {
        status: 422,
        error: "validation_error",
        message: "Invalid text: Expected string length greater or equal to 1",
      },
    ])
  })
})
