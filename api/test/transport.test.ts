// Over a real port: what Bun itself would answer before Elysia runs (413, 431) carries the
// envelope too, and a taken port is refused instead of shared.
import { afterAll, beforeAll, expect, test } from "bun:test"
import { createDb, type Database } from "@nps/db"
import { listen, MAX_BODY_BYTES, MAX_HEADER_BYTES, PortInUseError } from "../src/transport"
import { makeApp } from "./helpers"

let database: Database
let server: ReturnType<typeof makeApp>["app"]
let base: string
beforeAll(async () => {
  database = await createDb({ memory: true })
  server = makeApp(database.db).app
  listen(server, { hostname: "127.0.0.1", port: 0 })
  base = `http://127.0.0.1:${server.server?.port}`
})
afterAll(async () => {
  await server.stop(true)
  await database.close()
})

const SECRET = "nps_TransportSecretNeverEchoed_0123456789abcdef"

async function envelope(response: Response) {
  const text = await response.text()
  expect(text).not.toContain("TransportSecret")
  const body = JSON.parse(text)
  expect(Object.keys(body).sort()).toEqual(["error", "message"])
  return { status: response.status, error: body.error as string }
}

test("a body over 64 KiB is a 413 in the envelope, even one past Bun's own 128 MiB limit", async () => {
  for (const size of [MAX_BODY_BYTES + 1, 256 * 1024 * 1024]) {
    const body = new Uint8Array(size)
    const res = await fetch(`${base}/api/telegram/link`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${SECRET}` },
      body,
    })
    expect(await envelope(res)).toEqual({ status: 413, error: "payload_too_large" })
  }
})

test("a chunked body (no Content-Length) is a 411 in the envelope", async () => {
  const res = await fetch(`${base}/api/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(JSON.stringify({ username: SECRET })))
        controller.close()
      },
    }),
  })
  expect(await envelope(res)).toEqual({ status: 411, error: "length_required" })
})

test("headers over 16 KiB are a 431 in the envelope, up to 1 MiB where Bun's own limit starts", async () => {
  for (const size of [MAX_HEADER_BYTES, 512 * 1024]) {
    const res = await fetch(`${base}/api/health`, {
      headers: { "x-padding": "p".repeat(size), authorization: `Bearer ${SECRET}` },
    })
    expect(await envelope(res)).toEqual({ status: 431, error: "headers_too_large" })
  }
  // Just under the limit is served normally.
  const ok = await fetch(`${base}/api/health`, { headers: { "x-padding": "p".repeat(8 * 1024) } })
  expect(ok.status).toBe(200)
})

test("a second server on a taken port is refused with the port named, not bound beside it", async () => {
  const port = Number(server.server?.port)
  const second = makeApp(database.db).app
  let error: unknown
  try {
    listen(second, { hostname: "127.0.0.1", port })
  } catch (e) {
    error = e
  }
  expect(error).toBeInstanceOf(PortInUseError)
  expect((error as PortInUseError).port).toBe(port)
  expect((error as Error).message).toContain(String(port))
  expect(second.server).toBeFalsy()
})
