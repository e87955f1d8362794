// A user with any number of linked chats can be notified: deliveries are inserted by one
// set-based statement. Before, three parameters per chat overflowed Postgres's 65,535 at 21,845
// chats (500 MAX_PARAMETERS_EXCEEDED, and that user could never be notified again).
import { expect, test } from "bun:test"
import { notificationDeliveries } from "@nps/db"
import { asc, sql } from "drizzle-orm"
import { describeEachDb, makeApp, req, seedServiceKey, seedUser } from "./helpers"

const CHATS = 25_000

describeEachDb("a user with many chats", (ctx) => {
  test(`${CHATS.toLocaleString("en")} active chats: 202 with a queued delivery for each, in link order`, async () => {
    const { app } = makeApp(ctx.db)
    const svc = await seedServiceKey(ctx.db)
    const notifier = await seedUser(ctx.db, { username: "sender", scopes: ["telegram:notify"] })
    const bob = await seedUser(ctx.db, { username: "bob" })
    // Linked newest id first, so link order (what the deliveries follow) is not id order; plus
    // a blocked and an unlinked chat that get nothing.
    await ctx.db.execute(sql`
      insert into telegram_links (telegram_chat_id, user_id)
      select ${CHATS} + 1 - i, ${bob.user.id} from generate_series(1, ${CHATS}) as i`)
    await ctx.db.execute(sql`
      insert into telegram_links (telegram_chat_id, user_id, blocked_at, is_active) values
        (-1, ${bob.user.id}, now(), true), (-2, ${bob.user.id}, null, false)`)
    const res = await req(app, "POST", "/api/telegram/notifications", {
      token: notifier.key,
      body: { username: "bob", text: "to every chat" },
    })
    expect(res.status).toBe(202)
    expect(res.body.status).toBe("queued")
    expect(res.body.deliveries).toHaveLength(CHATS)
    expect(res.body.deliveries.slice(0, 2)).toEqual([
      { telegram_chat_id: CHATS, status: "queued" },
      { telegram_chat_id: CHATS - 1, status: "queued" },
    ])
    const [first] = await ctx.db
      .select()
      .from(notificationDeliveries)
      .orderBy(asc(notificationDeliveries.id))
      .limit(1)
    expect(first?.telegramChatId).toBe(CHATS)
    // And the bot leases them as any other.
    const lease = await req(app, "POST", "/api/telegram/deliveries/lease", {
      token: svc.key,
      body: { max: 100 },
    })
    expect(lease.body.deliveries).toHaveLength(100)
  })
})
