// The ceiling: the least code that answers GET /api/telegram/status/:chat_id correctly on this
// stack — a bare Bun.serve and postgres.js, one prepared statement that checks the service key and
// computes the status, no framework, no logging. Run as its own process by bench/main.ts:
// `bun bench/reference.ts <database url>`; prints {"port"} once listening.
import postgres from "postgres"

const url = process.argv[2]
if (!url) throw new Error("usage: bun bench/reference.ts <database url>")

// The same pool size and plan setting the API's client uses (db/src/client.ts).
const sql = postgres(url, {
  max: 10,
  onnotice: () => {},
  connection: { plan_cache_mode: "force_generic_plan" },
})

const PATH = /^\/api\/telegram\/status\/(-?(?:0|[1-9][0-9]{0,15}))$/
const json = (body: unknown, status = 200) => Response.json(body, { status })
const sha256 = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest("hex")

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(request) {
    const match = PATH.exec(new URL(request.url).pathname)
    const chatId = Number(match?.[1])
    if (!match || !Number.isSafeInteger(chatId)) return json({ error: "not_found" }, 404)
    const token = /^Bearer\s+(nps_\S+)\s*$/i.exec(request.headers.get("authorization") ?? "")?.[1]
    if (!token) return json({ error: "unauthorized" }, 401)
    // One round trip: whether the key may act as the bot, and the chat's status.
    const [row] = await sql`
      select
        exists (
          select 1 from api_keys k join users o on o.id = k.user_id
          where k.key_hash = ${sha256(token)} and k.is_active and o.is_active
            and (k.expires_at is null or k.expires_at > now())
            and 'telegram:service' = any (k.scopes)
        ) as authorized,
        s.username, s.role, s.profiles, s.readings
      from (select 1) as one
      left join lateral (
        select u.username, u.role,
          (select count(*) from oracle_profiles p where p.user_id = u.id)::int as profiles,
          (select count(*) from readings r where r.user_id = u.id)::int as readings
        from telegram_links l join users u on u.id = l.user_id and u.is_active
        where l.telegram_chat_id = ${chatId} and l.is_active
      ) as s on true`
    if (!row?.authorized) return json({ error: "forbidden" }, 403)
    if (row.username === null) return json({ linked: false })
    return json({
      linked: true,
      username: row.username,
      role: row.role,
      oracle_profile_count: row.profiles,
      reading_count: row.readings,
    })
  },
})
console.log(JSON.stringify({ port: server.port }))

process.on("SIGTERM", async () => {
  await server.stop(true)
  await sql.end({ timeout: 1 })
  process.exit(0)
})
