import { expect, test } from "bun:test"
import { createDb } from "@nps/db"
import { describeEachDb, makeApp, req, SERVICE_KEY, seedServiceKey } from "./helpers"

const CHAT = "-1001234567890"

describeEachDb("metrics", (ctx) => {
  test("GET /metrics counts requests by route template and status, never a chat id or a secret", async () => {
    const { app, logged } = makeApp(ctx.db)
    const svc = await seedServiceKey(ctx.db)
    for (let i = 0; i < 3; i++)
      expect(
        (await req(app, "GET", `/api/telegram/status/${CHAT}`, { token: svc.key })).status,
      ).toBe(200)
    await req(app, "GET", `/api/telegram/status/${CHAT}`, { token: SERVICE_KEY }) // 401
    await req(app, "GET", `/api/nothing/${CHAT}`) // 404
    await logged(5)
    const res = await req(app, "GET", "/metrics")
    expect(res.status).toBe(200)
    expect(res.headers.get("content-type")).toStartWith("text/plain")
    const text = res.text
    expect(text).toContain(
      'nps_http_requests_total{method="GET",route="/api/telegram/status/:chat_id",status="200"} 3',
    )
    expect(text).toContain(
      'nps_http_requests_total{method="GET",route="/api/telegram/status/:chat_id",status="401"} 1',
    )
    expect(text).toContain('nps_http_requests_total{method="GET",route="unmatched",status="404"} 1')
    expect(text).toMatch(
      /nps_http_request_duration_seconds_count\{method="GET",route="\/api\/telegram\/status\/:chat_id"\} 4/,
    )
    expect(text).toContain("# TYPE nps_db_errors_total counter")
    for (const leak of ["1001234567890", svc.key, SERVICE_KEY, "nothing"])
      expect(text).not.toContain(leak)
  })

  test("each app counts its own requests (no shared global registry)", async () => {
    const [one, two] = [makeApp(ctx.db), makeApp(ctx.db)]
    await req(one.app, "GET", "/api/health")
    await req(one.app, "GET", "/api/health")
    await req(two.app, "GET", "/api/health")
    await Promise.all([one.logged(2), two.logged(1)])
    const count = async ({ app }: typeof one) =>
      (await req(app, "GET", "/metrics")).text.match(
        /nps_http_requests_total\{method="GET",route="\/api\/health",status="200"\} (\d+)/,
      )?.[1]
    expect(await count(one)).toBe("2")
    expect(await count(two)).toBe("1")
  })

  test("health probes and scrapes stay out of the info log; other requests are logged", async () => {
    const { app, lines, logged } = makeApp(ctx.db)
    await req(app, "GET", "/api/health")
    await req(app, "GET", "/metrics")
    await req(app, "GET", "/api/auth/me")
    await logged(3)
    const requests = lines.map((l) => JSON.parse(l)).filter((r) => r.msg === "request")
    expect(requests.map((r) => [r.path, r.level])).toEqual([
      ["/api/health", "debug"],
      ["/metrics", "debug"],
      ["/api/auth/me", "info"],
    ])
  })
})

test("database failures are counted by kind, and the pool's queries are exported", async () => {
  const database = await createDb({
    url: "postgres://postgres@127.0.0.1:1/nps",
    max: 1,
    queryTimeoutMs: 3_000,
  })
  try {
    const { app } = makeApp(database.db, { dbStats: database.stats })
    expect((await req(app, "GET", "/api/telegram/status/1", { token: SERVICE_KEY })).status).toBe(
      503,
    )
    const text = (await req(app, "GET", "/metrics")).text
    expect(text).toContain('nps_db_errors_total{kind="unavailable"} 1')
    expect(text).toContain("nps_db_queries_in_flight 0")
    expect(text).toContain("nps_db_query_timeouts_total 0")
  } finally {
    await database.close()
  }
})
