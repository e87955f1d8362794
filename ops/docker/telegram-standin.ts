// The Bot API stand-in as a container (compose.standin.yaml), for running the real stack with no
// Telegram: the bot polls it on :8081 as it would api.telegram.org — or, in webhook mode, it
// POSTs updates to the URL the bot registered, as Telegram does — and a person or a test talks
// to the bot through extra routes on the same port:
//   GET /_say?chat=42&text=/start[&count=1]   a user's message; answers the bot's replies (JSON)
//   GET /_sent?chat=42[&count=2]              every text the bot sent to that chat (with count:
//                                             once there are that many, e.g. a notification)
//   GET /_calls                               every Bot API call the bot made, with its status
//   GET /_webhook                             the webhook's URL, and every delivery to it
import { startBotApiStandIn } from "../../testing/src/stand-in"

const standIn = await startBotApiStandIn({ token: process.env.NPS_BOT_TOKEN })
const server = Bun.serve({
  hostname: "0.0.0.0",
  port: Number(process.env.PORT ?? 8081),
  idleTimeout: 0, // long polls
  async fetch(request) {
    const url = new URL(request.url)
    if (url.pathname === "/_say") {
      const chat = Number(url.searchParams.get("chat") ?? 42)
      const text = url.searchParams.get("text") ?? "/start"
      const count = Number(url.searchParams.get("count") ?? 1)
      try {
        return Response.json(await standIn.say(chat, text, { count, timeoutMs: 20_000 }))
      } catch (error) {
        return Response.json({ error: String(error) }, { status: 504 })
      }
    }
    if (url.pathname === "/_sent") {
      const chat = Number(url.searchParams.get("chat") ?? 42)
      const count = Number(url.searchParams.get("count") ?? 0)
      try {
        if (count > 0) await standIn.replies(chat, count, { since: 0, timeoutMs: 20_000 })
      } catch (error) {
        return Response.json({ error: String(error) }, { status: 504 })
      }
      return Response.json(standIn.sent(chat).map((c) => String(c.params.text)))
    }
    if (url.pathname === "/_calls")
      return Response.json(standIn.calls.map((c) => `${c.method} ${c.status}`))
    if (url.pathname === "/_webhook")
      // The URL only: the secret stays between the bot and "Telegram".
      return Response.json({ url: standIn.webhook?.url ?? null, deliveries: standIn.deliveries })
    // Everything else is the Bot API itself.
    return fetch(`${standIn.url}${url.pathname}${url.search}`, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      signal: request.signal,
    })
  },
})
console.log(JSON.stringify({ msg: "telegram stand-in listening", port: server.port }))
const stop = async () => {
  await server.stop(true)
  await standIn.close()
  process.exit(0)
}
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
