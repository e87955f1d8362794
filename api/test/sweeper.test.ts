// Expired link tokens are deleted in the background, in small batches, by one replica at a time
// — never inside a request, where a whole-table DELETE made concurrent requests deadlock and
// time out on a healthy database.
import { expect, test } from "bun:test"
import { createDb, type Db, telegramLinkTokens } from "@nps/db"
import { createLogger } from "@nps/log"
import { sql } from "drizzle-orm"
import postgres from "postgres"
import { linkTokenSweep } from "../src/modules/telegram/service"
import { createSweeper } from "../src/sweeper"
import { listen } from "../src/transport"
import { describeEachDb, makeApp, req, seedServiceKey, seedUser } from "./helpers"

const quiet = createLogger({ service: "api", write: () => {} })

/** A logger whose `swept` lines (one per sweep that deleted rows) can be awaited in turn. */
function sweptLog() {
  const lines: string[] = []
  let waiting: ((line: string) => void) | undefined
  const logger = createLogger({
    service: "api",
    level: "debug",
    write: (line) => {
      if (!line.includes('"msg":"swept"')) return
      if (waiting) waiting(line)
      else lines.push(line)
      waiting = undefined
    },
  })
  const next = async () => {
    const line = lines.shift() ?? (await new Promise<string>((resolve) => (waiting = resolve)))
    return JSON.parse(line)
  }
  return { logger, next }
}

/**
 * `count` tokens of the user, set-based: the first expired `agoMs` before `now` (negative: in
 * the future), each next one `stepMs` earlier.
 */
const insertTokens = (
  db: Db,
  userId: string,
  count: number,
  now: Date,
  agoMs: number,
  stepMs = 1,
) =>
  db.execute(sql`
    insert into telegram_link_tokens (token_hash, user_id, created_at, expires_at)
    select md5(${crypto.randomUUID()} || i::text), ${userId}, ${now.toISOString()}::timestamptz,
           ${now.toISOString()}::timestamptz - make_interval(secs => ${agoMs / 1000}::float8)
             - make_interval(secs => i * ${stepMs / 1000}::float8)
    from generate_series(1, ${count}) as i`)

const countTokens = async (db: Db) => (await db.select().from(telegramLinkTokens)).length

describeEachDb("link-token sweep", (ctx) => {
  test("making a link token sweeps nothing: expired tokens wait for the background sweeper", async () => {
    const now = new Date("2026-06-01T12:00:00Z")
    const { app } = makeApp(ctx.db, { now: () => now })
    const alice = await seedUser(ctx.db)
    await insertTokens(ctx.db, alice.user.id, 3, now, 60_000)
    const res = await req(app, "POST", "/api/telegram/link-tokens", { token: alice.key })
    expect(res.status).toBe(201)
    expect(await countTokens(ctx.db)).toBe(4)
  })

  test("a run deletes 2,500 expired tokens in batches of 1,000 and keeps the live ones redeemable", async () => {
    const now = new Date()
    const { app } = makeApp(ctx.db)
    const svc = await seedServiceKey(ctx.db)
    const alice = await seedUser(ctx.db)
    await insertTokens(ctx.db, alice.user.id, 2_500, now, 1_000)
    const live = await req(app, "POST", "/api/telegram/link-tokens", { token: alice.key })
    let batches = 0
    const counted = {
      ...linkTokenSweep,
      step: async (db: Db, batch: number, at: Date) => {
        batches++
        return linkTokenSweep.step(db, batch, at)
      },
    }
    const sweeper = createSweeper({ db: ctx.db, logger: quiet, sweeps: [counted], batch: 1_000 })
    expect(await sweeper.runOnce()).toEqual({ link_tokens: 2_500 })
    expect(batches).toBe(3)
    expect(await countTokens(ctx.db)).toBe(1)
    expect(await sweeper.runOnce()).toEqual({ link_tokens: 0 })
    const redeemed = await req(app, "POST", "/api/telegram/link-tokens/redeem", {
      token: svc.key,
      body: { token: live.body.token, telegram_chat_id: 42 },
    })
    expect(redeemed.status).toBe(200)
  })

  test("a backlog is worked off over several runs: at most maxBatches × batch rows a run", async () => {
    const now = new Date()
    const alice = await seedUser(ctx.db)
    await insertTokens(ctx.db, alice.user.id, 250, now, 1_000)
    const sweeper = createSweeper({
      db: ctx.db,
      logger: quiet,
      sweeps: [linkTokenSweep],
      batch: 50,
      maxBatches: 2,
    })
    expect(await sweeper.runOnce()).toEqual({ link_tokens: 100 })
    expect(await countTokens(ctx.db)).toBe(150)
  })

  test("the server sweeps at start, then every period (createApp's onStart), until it stops", async () => {
    const alice = await seedUser(ctx.db)
    await insertTokens(ctx.db, alice.user.id, 20, new Date(), 1_000)
    const swept = sweptLog()
    // A period far longer than the test: the first run can only be the one at start.
    const { app } = makeApp(ctx.db, { logger: swept.logger, background: { sweepEveryMs: 60_000 } })
    listen(app, { hostname: "127.0.0.1", port: 0 })
    try {
      expect(await swept.next()).toMatchObject({ sweep: "link_tokens", deleted: 20 })
    } finally {
      await app.stop(true)
      await app.decorator.background.stop()
    }
    expect(await countTokens(ctx.db)).toBe(0)

    const sweeper = createSweeper({
      db: ctx.db,
      logger: swept.logger,
      every: 20,
      sweeps: [linkTokenSweep],
    })
    sweeper.start()
    await insertTokens(ctx.db, alice.user.id, 5, new Date(), 1_000)
    expect(await swept.next()).toMatchObject({ sweep: "link_tokens", deleted: 5 })
    await sweeper.stop()
    expect(await countTokens(ctx.db)).toBe(0)
  })

  test("stop() waits for a run in progress, which ends after its current batch", async () => {
    const entered = Promise.withResolvers<void>()
    const release = Promise.withResolvers<void>()
    let steps = 0
    // Always a full batch: without stop(), the run would go on to its next one.
    const slow = {
      name: "slow",
      async step(_db: Db, batch: number) {
        steps++
        entered.resolve()
        await release.promise
        return batch
      },
    }
    const sweeper = createSweeper({ db: ctx.db, logger: quiet, every: 60_000, sweeps: [slow] })
    sweeper.start()
    await entered.promise
    let stopped = false
    const stopping = sweeper.stop().then(() => {
      stopped = true
    })
    await Bun.sleep(0)
    expect(stopped).toBe(false)
    release.resolve()
    await stopping
    expect(steps).toBe(1)
  })

  if (ctx.driver === "postgres")
    test("one replica at a time: while another holds the sweep's lock, a run skips instead of waiting", async () => {
      const alice = await seedUser(ctx.db)
      await insertTokens(ctx.db, alice.user.id, 10, new Date(), 1_000)
      const other = postgres(await currentUrl(ctx.db), { max: 1, onnotice: () => {} })
      try {
        await other.begin(async (tx) => {
          await tx`select pg_advisory_xact_lock(hashtext('nps:sweep:link_tokens'))`
          const sweeper = createSweeper({ db: ctx.db, logger: quiet, sweeps: [linkTokenSweep] })
          expect(await sweeper.runOnce()).toEqual({ link_tokens: 0 })
        })
        const sweeper = createSweeper({ db: ctx.db, logger: quiet, sweeps: [linkTokenSweep] })
        expect(await sweeper.runOnce()).toEqual({ link_tokens: 10 })
      } finally {
        await other.end()
      }
    })
})

/** The test database's URL, from the server itself (the helper keeps it private). */
async function currentUrl(db: Db) {
  const result = (await db.execute(sql`select current_database() as name`)) as unknown as {
    name: string
  }[]
  const url = new URL(process.env.TEST_DATABASE_URL as string)
  url.pathname = `/${result[0]?.name}`
  return url.toString()
}

// Issue 16's drill, shortened for the suite: 50,000 tokens expiring while 50 clients make link
// tokens and notifications against Postgres with the production query deadline. Before the fix,
// every token creation swept the table: deadlocks (500) and 503s at the deadline.
const DRILL_MS = 4_000

describeEachDb("load drill", (ctx) => {
  if (ctx.driver === "postgres")
    test("50 clients for 4 s while 50,000 tokens expire and the sweeper runs: 0 × 500, 0 × 503", async () => {
      const alice = await seedUser(ctx.db, { scopes: ["telegram:notify"] })
      await ctx.db.execute(
        sql`insert into telegram_links (telegram_chat_id, user_id) values (1, ${alice.user.id})`,
      )
      // Expiring one after another all through the drill, as after a flood of tokens.
      await insertTokens(ctx.db, alice.user.id, 50_000, new Date(), -500, -DRILL_MS / 50_000)
      const database = await createDb({
        url: await currentUrl(ctx.db),
        max: 10,
        queryTimeoutMs: 3_000,
      })
      const { app } = makeApp(database.db)
      const sweeper = createSweeper({
        db: database.db,
        logger: quiet,
        every: 100,
        sweeps: [linkTokenSweep],
      })
      sweeper.start()
      const statuses = new Map<number, number>()
      const until = performance.now() + DRILL_MS
      const client = async (i: number) => {
        while (performance.now() < until) {
          const res =
            i % 2
              ? await req(app, "POST", "/api/telegram/link-tokens", { token: alice.key })
              : await req(app, "POST", "/api/telegram/notifications", {
                  token: alice.key,
                  body: { username: "alice", text: "drill" },
                })
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
        }
      }
      try {
        await Promise.all(Array.from({ length: 50 }, (_, i) => client(i)))
      } finally {
        await sweeper.stop()
        await database.close()
      }
      const errors = [...statuses].filter(([status]) => status >= 500)
      expect(errors).toEqual([])
      expect((statuses.get(201) ?? 0) + (statuses.get(202) ?? 0)).toBeGreaterThan(100)
    })
})
