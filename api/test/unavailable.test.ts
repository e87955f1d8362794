import { expect, test } from "bun:test"
import { createDb } from "@nps/db"
import type { Socket, TCPSocketListener } from "bun"
import { makeApp, openTestDatabase, req, SERVICE_KEY } from "./helpers"

test("an unreachable database gives 503 on health and on data endpoints, never 500", async () => {
  // Nothing listens on port 1: every connection is refused.
  const { db, close } = await createDb({ url: "postgres://postgres@127.0.0.1:1/nps", max: 1 })
  try {
    const { app, logText } = makeApp(db)
    const health = await req(app, "GET", "/api/health")
    expect(health.status).toBe(503)
    expect(health.body.error).toBe("database_unavailable")
    const status = await req(app, "GET", "/api/telegram/status/1", { token: SERVICE_KEY })
    expect(status.status).toBe(503)
    const link = await req(app, "POST", "/api/telegram/link", {
      token: SERVICE_KEY,
      body: { telegram_chat_id: 1, api_key: SERVICE_KEY },
    })
    expect(link.status).toBe(503)
    expect(link.text + logText()).not.toContain(SERVICE_KEY)
  } finally {
    await close()
  }
})

/** A TCP relay to Postgres that can be cut and restored, to play a database outage. */
function relay(target: URL) {
  let listener: TCPSocketListener<{ upstream?: Socket; pending: Uint8Array[] }> | undefined
  const clients = new Set<Socket<{ upstream?: Socket; pending: Uint8Array[] }>>()
  const open = (port = 0) => {
    listener = Bun.listen<{ upstream?: Socket; pending: Uint8Array[] }>({
      hostname: "127.0.0.1",
      port,
      socket: {
        open(client) {
          client.data = { pending: [] }
          clients.add(client)
          void Bun.connect({
            hostname: target.hostname,
            port: Number(target.port || 5432),
            socket: {
              open(upstream) {
                client.data.upstream = upstream
                for (const chunk of client.data.pending) upstream.write(chunk)
              },
              data: (_, chunk) => {
                client.write(chunk)
              },
              close: () => {
                client.end()
              },
              error: () => {
                client.end()
              },
            },
          }).catch(() => client.end())
        },
        data(client, chunk) {
          if (client.data.upstream) client.data.upstream.write(chunk)
          else client.data.pending.push(new Uint8Array(chunk))
        },
        close(client) {
          clients.delete(client)
          client.data.upstream?.end()
        },
      },
    })
    return listener.port
  }
  return {
    open,
    cut() {
      listener?.stop(true)
      for (const c of clients) c.end()
    },
  }
}

// Needs a real Postgres behind the relay; registered only when one is configured.
if (process.env.TEST_DATABASE_URL)
  test("[postgres] the API recovers by itself when the database comes back", async () => {
    const real = await openTestDatabase("postgres")
    const url = new URL(real.url as string)
    const proxy = relay(url)
    const port = proxy.open()
    const viaProxy = new URL(url)
    viaProxy.hostname = "127.0.0.1"
    viaProxy.port = String(port)
    const { db, close } = await createDb({ url: viaProxy.toString(), max: 2 })
    try {
      const { app } = makeApp(db)
      expect((await req(app, "GET", "/api/health")).status).toBe(200)
      proxy.cut()
      expect((await req(app, "GET", "/api/health")).status).toBe(503)
      expect((await req(app, "GET", "/api/telegram/status/1", { token: SERVICE_KEY })).status).toBe(
        503,
      )
      proxy.open(port)
      expect((await req(app, "GET", "/api/health")).status).toBe(200)
    } finally {
      proxy.cut()
      await close()
      await real.close()
    }
  })
