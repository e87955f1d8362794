// Shared by the rich-notification tests: the app with an injected clock, the people, and the
// requests they make (notify, lease, report, show, preferences).
import { beforeEach } from "bun:test"
import { type Db, telegramLinks } from "@nps/db"
import { makeApp, req, seedServiceKey, seedUser } from "./helpers"

type App = ReturnType<typeof makeApp>["app"]
type Seeded = Awaited<ReturnType<typeof seedUser>>
export interface Leased {
  id: number
  notification_id: string
  telegram_chat_id: number
  text: string
  messages: ({ text: string; reply_markup?: unknown } & Record<string, unknown>)[]
  language: string
}

/**
 * A notifier, the bot's key and bob with chat 501, fresh before each test, on an app whose clock
 * the test sets (`at`); with the requests the tests make.
 */
export function richFixture(ctx: { readonly db: Db }) {
  let clock: Date
  let app: App
  let svc: Seeded
  let notifier: Seeded
  let bob: Seeded

  beforeEach(async () => {
    clock = new Date("2026-05-01T08:00:00Z")
    app = makeApp(ctx.db, { now: () => clock }).app
    svc = await seedServiceKey(ctx.db)
    notifier = await seedUser(ctx.db, { username: "oracle-service", scopes: ["telegram:notify"] })
    bob = await seedUser(ctx.db, { username: "bob" })
    await ctx.db.insert(telegramLinks).values({ telegramChatId: 501, userId: bob.user.id })
  })

  const at = (iso: string) => {
    clock = new Date(iso)
  }
  const notify = (body: object) =>
    req(app, "POST", "/api/telegram/notifications", {
      token: notifier.key,
      body: { username: "bob", ...body },
    })
  const lease = async () => {
    const { body } = await req(app, "POST", "/api/telegram/deliveries/lease", {
      token: svc.key,
      body: {},
    })
    return body as { lease_id: string; deliveries: Leased[] }
  }
  const report = (leased: { lease_id: string }, results: object[]) =>
    req(app, "POST", "/api/telegram/deliveries/report", {
      token: svc.key,
      body: { results: results.map((r) => ({ lease_id: leased.lease_id, ...r })) },
    })
  const sendAll = async (leased: { lease_id: string; deliveries: Leased[] }) =>
    report(
      leased,
      leased.deliveries.map((d) => ({ id: d.id, outcome: "sent" })),
    )
  const show = async (id: string) =>
    (await req(app, "GET", `/api/telegram/notifications/${id}`, { token: notifier.key })).body
  const prefs = (body: object) =>
    req(app, "PUT", "/api/telegram/preferences", { token: bob.key, body })
  return {
    at,
    notify,
    lease,
    report,
    sendAll,
    show,
    prefs,
    get app() {
      return app
    },
    get bob() {
      return bob
    },
    get svc() {
      return svc
    },
    get notifier() {
      return notifier
    },
  }
}
