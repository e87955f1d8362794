// Notifications as other NPS services send them, and the bot's side of the queue (leasing and
// reporting deliveries) — on both databases, through real HTTP handling, with an injected clock
// where leases expire.
import { beforeEach, expect, test } from "bun:test"
import { createDb, notificationDeliveries, notifications, telegramLinks } from "@nps/db"
import { openTestDatabase } from "@nps/testing/database"
import { eq } from "drizzle-orm"
import { deactivateUser } from "../src/modules/auth/service"
import { describeEachDb, drivers, makeApp, req, seedServiceKey, seedUser } from "./helpers"

type App = ReturnType<typeof makeApp>["app"]
type Seeded = Awaited<ReturnType<typeof seedUser>>

describeEachDb("notifications", (ctx) => {
  let clock: Date
  let app: App
  let svc: Seeded
  let notifier: Seeded
  let admin: Seeded
  let nextChat = 1_000

  beforeEach(async () => {
    clock = new Date("2026-05-01T08:00:00Z")
    app = makeApp(ctx.db, { now: () => clock }).app
    svc = await seedServiceKey(ctx.db)
    notifier = await seedUser(ctx.db, { username: "oracle-service", scopes: ["telegram:notify"] })
    admin = await seedUser(ctx.db, { username: "root", role: "admin", scopes: [] })
  })

  const link = async (userId: string, chatId = nextChat++, extra: object = {}) => {
    await ctx.db.insert(telegramLinks).values({ telegramChatId: chatId, userId, ...extra })
    return chatId
  }
  const notify = (body: object, token = notifier.key, signal?: AbortSignal) =>
    req(app, "POST", "/api/telegram/notifications", { token, body, ...(signal && { signal }) })
  const lease = (body: object = {}, target: App = app) =>
    req(target, "POST", "/api/telegram/deliveries/lease", { token: svc.key, body })
  const report = (results: object[], target: App = app) =>
    req(target, "POST", "/api/telegram/deliveries/report", { token: svc.key, body: { results } })
  const show = (id: string, token = notifier.key) =>
    req(app, "GET", `/api/telegram/notifications/${id}`, { token })
  const login = async (username: string, password: string) =>
    (await req(app, "POST", "/api/auth/login", { body: { username, password } })).body
      .access_token as string
  const sent = (lease: { lease_id: string; deliveries: { id: number }[] }) =>
    lease.deliveries.map((d) => ({ id: d.id, lease_id: lease.lease_id, outcome: "sent" }))

  test("202: one queued delivery per active, unblocked linked chat; GET follows it", async () => {
    const bob = await seedUser(ctx.db, { username: "bob" })
    const first = await link(bob.user.id)
    await link(bob.user.id, nextChat++, { blockedAt: clock })
    await link(bob.user.id, nextChat++, { isActive: false })
    const group = await link(bob.user.id, -1_001_234_567_890)
    await link(admin.user.id)

    const res = await notify({ username: "bob", text: "Your reading is ready" })
    expect(res.status).toBe(202)
    expect(res.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      status: "queued",
      deliveries: [
        { telegram_chat_id: first, status: "queued" },
        { telegram_chat_id: group, status: "queued" },
      ],
    })
    const view = await show(res.body.id)
    expect(view.status).toBe(200)
    expect(view.body).toEqual({
      id: res.body.id,
      status: "queued",
      created_at: "2026-05-01T08:00:00.000Z",
      deliveries: [
        { telegram_chat_id: first, status: "queued", sent_at: null, error: null, language: null },
        { telegram_chat_id: group, status: "queued", sent_at: null, error: null, language: null },
      ],
    })
    // By user id too.
    const byId = await notify({ user_id: bob.user.id, text: "again" })
    expect(byId.status).toBe(202)
    expect(byId.body.deliveries).toHaveLength(2)
  })

  test("a user with no reachable chat: 202 undeliverable, and nothing to lease", async () => {
    const carol = await seedUser(ctx.db, { username: "carol" })
    await link(carol.user.id, nextChat++, { blockedAt: clock })
    const res = await notify({ username: "carol", text: "hello" })
    expect(res.status).toBe(202)
    expect(res.body).toMatchObject({ status: "undeliverable", deliveries: [] })
    expect((await lease()).body.deliveries).toEqual([])
  })

  test("credentials: a telegram:notify key or an admin's JWT; nothing else", async () => {
    const bob = await seedUser(ctx.db, { username: "bob" })
    await link(bob.user.id)
    const body = { username: "bob", text: "hi" }
    expect((await req(app, "POST", "/api/telegram/notifications", { body })).status).toBe(401)
    expect((await notify(body, `nps_${"x".repeat(43)}`)).status).toBe(401)
    expect((await notify(body, bob.key)).status).toBe(403) // oracle scopes only
    expect((await notify(body, svc.key)).status).toBe(403) // the bot's key cannot notify
    expect((await notify(body, await login("bob", bob.password))).status).toBe(403)
    expect((await notify(body, await login("root", admin.password))).status).toBe(202)
    expect((await notify(body)).status).toBe(202)
    // The bot's endpoints are the bot's alone.
    expect(
      (await req(app, "POST", "/api/telegram/deliveries/lease", { token: notifier.key, body: {} }))
        .status,
    ).toBe(403)

    // Only admins mint the scope.
    const mint = async (token: string) =>
      req(app, "POST", "/api/auth/api-keys", {
        token,
        body: { name: "alerts", scopes: ["telegram:notify"] },
      })
    const refused = await mint(await login("bob", bob.password))
    expect(refused.status).toBe(403)
    expect(refused.body.message).toContain("telegram:notify")
    const minted = await mint(await login("root", admin.password))
    expect(minted.status).toBe(200)
    expect((await notify(body, minted.body.key)).status).toBe(202)
  })

  test("bad input is a 422 naming the field; unknown or deactivated users 404", async () => {
    const bob = await seedUser(ctx.db, { username: "bob" })
    await link(bob.user.id)
    const cases: [object, string][] = [
      [{ username: "bob", text: "" }, "text"],
      [{ username: "bob", text: " \n\t " }, "text"],
      [{ username: "bob", text: "x".repeat(4097) }, "text"],
      [{ username: "bob", text: "a\u0000b" }, "text"],
      [{ username: "bob" }, "text"],
      [{ text: "hi" }, "username and user_id"],
      [{ username: "bob", user_id: bob.user.id, text: "hi" }, "username and user_id"],
      [{ user_id: "bob", text: "hi" }, "user_id"],
      [{ username: "bob", text: "hi", idempotency_key: "k".repeat(129) }, "idempotency_key"],
      [{ username: "bob", text: "hi", idempotency_key: "" }, "idempotency_key"],
    ]
    for (const [body, field] of cases) {
      const res = await notify(body)
      expect([res.status, res.body.error]).toEqual([422, "validation_error"])
      expect(res.body.message).toContain(field)
    }
    // Exactly Telegram's limit is fine, whatever the characters.
    expect((await notify({ username: "bob", text: "é".repeat(4096) })).status).toBe(202)

    const unknown = await notify({ username: "nobody", text: "hi" })
    expect([unknown.status, unknown.body.error]).toEqual([404, "user_not_found"])
    await deactivateUser(ctx.db, "bob")
    const inactive = await notify({ username: "bob", text: "hi" })
    expect([inactive.status, inactive.body.error]).toEqual([404, "user_inactive"])
  })

  test("idempotency: the same key and body → 200 and the same notification, sent once; another body → 409", async () => {
    const bob = await seedUser(ctx.db, { username: "bob" })
    await link(bob.user.id)
    const body = { username: "bob", text: "Daily summary", idempotency_key: "summary-2026-05-01" }
    const first = await notify(body)
    expect(first.status).toBe(202)
    const again = await notify(body)
    expect(again.status).toBe(200)
    expect(again.body).toEqual(first.body)
    // The recipient named by id is the same recipient.
    expect((await notify({ ...body, username: undefined, user_id: bob.user.id })).status).toBe(200)

    const conflict = await notify({ ...body, text: "Another summary" })
    expect([conflict.status, conflict.body.error]).toEqual([409, "idempotency_key_reused"])
    // Another sender's keys are its own.
    const other = await seedUser(ctx.db, { username: "alerts", scopes: ["telegram:notify"] })
    const theirs = await notify(body, other.key)
    expect(theirs.status).toBe(202)
    expect(theirs.body.id).not.toBe(first.body.id)

    // One delivery per notification, whatever the retries.
    expect(
      (await lease()).body.deliveries.map((d: { notification_id: string }) => d.notification_id),
    ).toEqual([first.body.id])
    // Without a key every request is a notification of its own.
    expect((await notify({ username: "bob", text: "Daily summary" })).status).toBe(202)
    expect(await ctx.db.select().from(notifications)).toHaveLength(3)
  })

  test("concurrent requests with one idempotency key make one notification", async () => {
    const bob = await seedUser(ctx.db, { username: "bob" })
    await link(bob.user.id)
    const body = { username: "bob", text: "once", idempotency_key: "race" }
    const replies = await Promise.all(Array.from({ length: 8 }, () => notify(body)))
    expect(replies.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 202])
    expect(new Set(replies.map((r) => r.body.id)).size).toBe(1)
    expect(await ctx.db.select().from(notifications)).toHaveLength(1)
    expect(await ctx.db.select().from(notificationDeliveries)).toHaveLength(1)
  })

  test("GET: a sender sees its own notifications, an admin every one", async () => {
    const bob = await seedUser(ctx.db, { username: "bob" })
    await link(bob.user.id)
    const { body } = await notify({ username: "bob", text: "mine" })
    const other = await seedUser(ctx.db, { username: "alerts", scopes: ["telegram:notify"] })
    const foreign = await show(body.id, other.key)
    expect([foreign.status, foreign.body.error]).toEqual([404, "notification_not_found"])
    expect((await show(body.id, await login("root", admin.password))).status).toBe(200)
    expect((await show(crypto.randomUUID())).status).toBe(404)
    expect((await show("not-a-uuid")).status).toBe(422)
    expect((await show(body.id, bob.key)).status).toBe(403)
  })

  test("a lease holds each chat's oldest queued delivery only, in acceptance order", async () => {
    const bob = await seedUser(ctx.db, { username: "bob" })
    const carol = await seedUser(ctx.db, { username: "carol" })
    const b = await link(bob.user.id)
    const c = await link(carol.user.id)
    const ids: string[] = []
    for (const [username, text] of [
      ["bob", "b1"],
      ["carol", "c1"],
      ["bob", "b2"],
      ["bob", "b3"],
    ])
      ids.push((await notify({ username, text })).body.id)

    const one = (await lease()).body
    expect(one.lease_seconds).toBe(60)
    expect(one.lease_expires_at).toBe("2026-05-01T08:01:00.000Z")
    expect(
      one.deliveries.map((d: { telegram_chat_id: number; text: string }) => [
        d.telegram_chat_id,
        d.text,
      ]),
    ).toEqual([
      [b, "b1"],
      [c, "c1"],
    ])
    expect(one.deliveries[0]).toMatchObject({ notification_id: ids[0], attempts: 1 })
    // Held: nobody else gets them, nor bob's next one, until they are settled.
    expect((await lease()).body.deliveries).toEqual([])

    expect((await report(sent(one))).body).toEqual({ applied: 2, stale: 0 })
    const two = (await lease()).body
    expect(two.deliveries.map((d: { text: string }) => d.text)).toEqual(["b2"])
    await report(sent(two))
    const three = (await lease({ max: 1 })).body
    expect(three.deliveries.map((d: { text: string }) => d.text)).toEqual(["b3"])
    await report(sent(three))

    const view = (await show(ids[0] as string)).body
    expect(view).toMatchObject({
      status: "sent",
      deliveries: [{ status: "sent", sent_at: "2026-05-01T08:00:00.000Z", error: null }],
    })
  })

  test("two bots leasing at once never hold two messages of one chat, and send each chat's in order", async () => {
    const people = await Promise.all(
      ["p0", "p1", "p2"].map((username) => seedUser(ctx.db, { username })),
    )
    const chats = await Promise.all(people.map((p) => link(p.user.id)))
    for (let n = 0; n < 8; n++)
      for (const p of people) await notify({ user_id: p.user.id, text: `${n}` })
    const order = new Map<number, string[]>()
    const holding = new Set<number>()
    const bot = async () => {
      for (let idle = 0; idle < 3; ) {
        const { body } = await lease({ max: 2 })
        if (!body.deliveries.length) {
          idle++
          continue
        }
        idle = 0
        for (const d of body.deliveries) {
          // One bot never leases a chat the other still holds.
          expect(holding.has(d.telegram_chat_id)).toBe(false)
          holding.add(d.telegram_chat_id)
          order.set(d.telegram_chat_id, [...(order.get(d.telegram_chat_id) ?? []), d.text])
        }
        await Bun.sleep(0) // let the other bot's lease interleave
        for (const d of body.deliveries) holding.delete(d.telegram_chat_id)
        expect((await report(sent(body))).body.stale).toBe(0)
      }
    }
    await Promise.all([bot(), bot()])
    for (const chat of chats)
      expect(order.get(chat)).toEqual(["0", "1", "2", "3", "4", "5", "6", "7"])
  })

  test("a lease expires: the delivery is leased again, and the first holder's late report is ignored", async () => {
    const bob = await seedUser(ctx.db, { username: "bob" })
    await link(bob.user.id)
    const { body: n } = await notify({ username: "bob", text: "survives a crash" })
    const crashed = (await lease()).body
    expect(crashed.deliveries).toHaveLength(1)
    clock = new Date(clock.getTime() + 59_000)
    expect((await lease()).body.deliveries).toEqual([])
    clock = new Date(clock.getTime() + 1_000)
    const retaken = (await lease()).body
    expect(retaken.deliveries).toMatchObject([{ id: crashed.deliveries[0].id, attempts: 2 }])
    expect((await report(sent(crashed))).body).toEqual({ applied: 0, stale: 1 })
    expect((await show(n.id)).body.status).toBe("queued")
    expect((await report(sent(retaken))).body).toEqual({ applied: 1, stale: 0 })
    expect((await show(n.id)).body.status).toBe("sent")
  })

  test("retry: the delivery comes back when retry_after has passed (0 hands it back at once)", async () => {
    const bob = await seedUser(ctx.db, { username: "bob" })
    await link(bob.user.id)
    await notify({ username: "bob", text: "flood" })
    const first = (await lease()).body
    const [d] = first.deliveries
    await report([
      { id: d.id, lease_id: first.lease_id, outcome: "retry", retry_after_seconds: 30 },
    ])
    clock = new Date(clock.getTime() + 29_999)
    expect((await lease()).body.deliveries).toEqual([])
    clock = new Date(clock.getTime() + 1)
    const second = (await lease()).body
    expect(second.deliveries).toMatchObject([{ id: d.id }])
    await report([{ id: d.id, lease_id: second.lease_id, outcome: "retry" }])
    expect((await lease()).body.deliveries).toMatchObject([{ id: d.id, attempts: 3 }])
  })

  test("blocked: the chat is marked blocked and its other queued deliveries fail with it", async () => {
    const bob = await seedUser(ctx.db, { username: "bob" })
    const blocked = await link(bob.user.id)
    const fine = await link(bob.user.id)
    const a = (await notify({ username: "bob", text: "a" })).body
    const b = (await notify({ username: "bob", text: "b" })).body
    const first = (await lease()).body
    const results = first.deliveries.map((d: { id: number; telegram_chat_id: number }) =>
      d.telegram_chat_id === blocked
        ? { id: d.id, lease_id: first.lease_id, outcome: "failed", error: "blocked" }
        : { id: d.id, lease_id: first.lease_id, outcome: "sent" },
    )
    expect((await report(results)).body).toEqual({ applied: 2, stale: 0 })
    const links = (await req(app, "GET", "/api/telegram/links", { token: bob.key })).body
    expect(
      links.find((l: { telegram_chat_id: number }) => l.telegram_chat_id === blocked),
    ).toMatchObject({ blocked: true, is_active: true })
    expect((await show(a.id)).body).toMatchObject({
      status: "partial",
      deliveries: [
        { telegram_chat_id: blocked, status: "failed", error: "blocked", sent_at: null },
        { telegram_chat_id: fine, status: "sent", error: null },
      ],
    })
    // "b" to the blocked chat failed without being sent; its other chat is still to come.
    expect((await show(b.id)).body).toMatchObject({
      status: "queued",
      deliveries: [
        { telegram_chat_id: blocked, status: "failed", error: "blocked" },
        { telegram_chat_id: fine, status: "queued" },
      ],
    })
    const last = (await lease()).body
    expect(last.deliveries.map((d: { telegram_chat_id: number }) => d.telegram_chat_id)).toEqual([
      fine,
    ])
    await report(sent(last))
    expect((await show(b.id)).body.status).toBe("partial")
    // New notifications leave the blocked chat out.
    expect((await notify({ username: "bob", text: "c" })).body.deliveries).toEqual([
      { telegram_chat_id: fine, status: "queued" },
    ])
  })

  test("chat not found fails the chat's deliveries; a notification whose every delivery failed is failed", async () => {
    const bob = await seedUser(ctx.db, { username: "bob" })
    const gone = await link(bob.user.id)
    const a = (await notify({ username: "bob", text: "a" })).body
    const b = (await notify({ username: "bob", text: "b" })).body
    const first = (await lease()).body
    await report(
      first.deliveries.map((d: { id: number }) => ({
        id: d.id,
        lease_id: first.lease_id,
        outcome: "failed",
        error: "chat_not_found",
      })),
    )
    for (const id of [a.id, b.id])
      expect((await show(id)).body).toMatchObject({
        status: "failed",
        deliveries: [{ telegram_chat_id: gone, status: "failed", error: "chat_not_found" }],
      })
    // Telegram not knowing the chat is not the user blocking the bot.
    const [row] = await ctx.db
      .select()
      .from(telegramLinks)
      .where(eq(telegramLinks.telegramChatId, gone))
    expect(row?.blockedAt).toBeNull()
    const missing = await report([{ id: 1, lease_id: first.lease_id, outcome: "failed" }])
    expect([missing.status, missing.body.error]).toEqual([422, "validation_error"])
  })

  test("a group turned supergroup: the sent delivery and the chat's queued ones follow the new id", async () => {
    const bob = await seedUser(ctx.db, { username: "bob" })
    await link(bob.user.id, -4_000_000_001)
    const a = (await notify({ username: "bob", text: "a" })).body
    const b = (await notify({ username: "bob", text: "b" })).body
    const first = (await lease()).body
    const supergroup = -1_002_000_000_001
    await report([
      {
        id: first.deliveries[0].id,
        lease_id: first.lease_id,
        outcome: "sent",
        chat_id: supergroup,
      },
    ])
    expect((await show(a.id)).body.deliveries).toMatchObject([
      { telegram_chat_id: supergroup, status: "sent" },
    ])
    expect((await show(b.id)).body.deliveries).toMatchObject([
      { telegram_chat_id: supergroup, status: "queued" },
    ])
    expect((await lease()).body.deliveries).toMatchObject([
      { telegram_chat_id: supergroup, text: "b" },
    ])
  })

  test("a waiting lease is woken by a notification accepted while it waits", async () => {
    const bob = await seedUser(ctx.db, { username: "bob" })
    const chat = await link(bob.user.id)
    // No timer re-checks and no LISTEN: only this app's own wake-up can answer the lease early.
    const waiter = makeApp(ctx.db, { now: () => clock, deliveries: { recheckMs: 600_000 } }).app
    // wait_seconds 0: nothing due, answered at once.
    expect((await lease({ wait_seconds: 0 }, waiter)).body.deliveries).toEqual([])
    const waiting = lease({ wait_seconds: 25 }, waiter)
    // Accept only once the lease has found nothing and waits (the gauge operators watch too).
    const waitingLeases = async () =>
      /nps_delivery_leases_waiting (\d+)/.exec((await req(waiter, "GET", "/metrics")).text)?.[1]
    while ((await waitingLeases()) !== "1") await Bun.sleep(10)
    const accepted = await req(waiter, "POST", "/api/telegram/notifications", {
      token: notifier.key,
      body: { username: "bob", text: "wake up" },
    })
    expect(accepted.status).toBe(202)
    // Answered by the wake-up, well before the 25 s poll ends (the test's timeout is 30 s).
    expect((await waiting).body.deliveries).toMatchObject([
      { telegram_chat_id: chat, text: "wake up" },
    ])
  })

  test("a lease whose caller gave up leases nothing", async () => {
    const bob = await seedUser(ctx.db, { username: "bob" })
    await link(bob.user.id)
    const gone = new AbortController()
    const waiting = req(app, "POST", "/api/telegram/deliveries/lease", {
      token: svc.key,
      body: { wait_seconds: 25 },
      signal: gone.signal,
    })
    gone.abort()
    await waiting.catch(() => undefined)
    await notify({ username: "bob", text: "for whoever asks next" })
    expect((await lease()).body.deliveries).toMatchObject([{ text: "for whoever asks next" }])
  })
})

for (const driver of drivers().filter((d) => d === "postgres")) {
  test(`[${driver}] a lease waiting on one API replica wakes for a notification accepted by another (LISTEN/NOTIFY)`, async () => {
    const database = await openTestDatabase(driver)
    const other = await createDb({ url: database.url as string })
    try {
      // No timer re-checks within the test: only the NOTIFY can wake the lease.
      const waiter = makeApp(database.db, {
        listen: database.listen,
        deliveries: { recheckMs: 600_000 },
      }).app
      const acceptor = makeApp(other.db).app
      const svc = await seedServiceKey(database.db)
      const notifier = await seedUser(database.db, { username: "svc", scopes: ["telegram:notify"] })
      const bob = await seedUser(database.db, { username: "bob" })
      await database.db.insert(telegramLinks).values({ telegramChatId: 42, userId: bob.user.id })
      const waiting = req(waiter, "POST", "/api/telegram/deliveries/lease", {
        token: svc.key,
        body: { wait_seconds: 25 },
      })
      // Accept only once the lease has found nothing and waits (the gauge operators watch too).
      const waitingLeases = async () =>
        /nps_delivery_leases_waiting (\d+)/.exec((await req(waiter, "GET", "/metrics")).text)?.[1]
      while ((await waitingLeases()) !== "1") await Bun.sleep(10)
      const accepted = await req(acceptor, "POST", "/api/telegram/notifications", {
        token: notifier.key,
        body: { username: "bob", text: "across replicas" },
      })
      expect(accepted.status).toBe(202)
      expect((await waiting).body.deliveries).toMatchObject([{ telegram_chat_id: 42 }])
    } finally {
      await other.close()
      await database.close()
    }
  }, 20_000)
}
