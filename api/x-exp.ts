import { createDb } from "@nps/db"
import { createLogger } from "@nps/log"
import { createApp } from "./src/app"
import { loadConfig } from "./src/config"
import { listen } from "./src/transport"

const { db } = await createDb({ memory: true })
const app = createApp({
  db,
  config: loadConfig({ JWT_SECRET: "x".repeat(32) }),
  logger: createLogger({ service: "api", level: "warn" }),
})
listen(app, { hostname: "127.0.0.1", port: 0 })
const base = `http://127.0.0.1:${app.server!.port}`
const show = async (label: string, p: Promise<Response>) => {
  const r = await p.catch((e) => e)
  console.log(label, r.status ?? String(r), r.text ? (await r.text()).slice(0, 150) : "")
}
await show(
  "413",
  fetch(`${base}/api/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "x".repeat(70000),
  }),
)
await show(
  "413 huge",
  fetch(`${base}/api/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: new Uint8Array(200 << 20),
  }),
)
await show(
  "411",
  fetch(`${base}/api/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode("{}"))
        c.close()
      },
    }),
  }),
)
await show("431", fetch(`${base}/api/health`, { headers: { "x-big": "y".repeat(20000) } }))
await show("431 500k", fetch(`${base}/api/health`, { headers: { "x-big": "y".repeat(500000) } }))
await show("431 2M", fetch(`${base}/api/health`, { headers: { "x-big": "y".repeat(2000000) } }))
await show(
  "nul",
  fetch(`${base}/api/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "a\u0000b", password: "x" }),
  }),
)
await show("swagger", fetch(`${base}/swagger`))
await show("asset", fetch(`${base}/swagger/assets/swagger-ui.css`))
await show("asset404", fetch(`${base}/swagger/assets/..%2Fpackage.json`))
await fetch(`${base}/api/telegram/status/123456`)
console.log(await (await fetch(`${base}/metrics`)).text())
console.log(await (await fetch(`${base}/swagger`)).text())
const doc = (await (await fetch(`${base}/swagger/json`)).json()) as any
for (const [p, ops] of Object.entries(doc.paths))
  for (const [m, op] of Object.entries(ops as any))
    console.log(
      m,
      p,
      Object.keys((op as any).responses ?? {}).join(","),
      JSON.stringify((op as any).security),
      (op as any).description,
    )
app.stop()
