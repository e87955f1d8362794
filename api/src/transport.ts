// What happens before routing: the size limits of a request, and binding the port.
import http from "node:http"
import { headersTooLarge, lengthRequired, payloadTooLarge } from "./errors"

export const MAX_BODY_BYTES = 64 * 1024
export const MAX_HEADER_BYTES = 16 * 1024

/**
 * Bun enforces its own body and header limits before any of our code runs, answering 413/431
 * with an empty body (uWS writes a fixed "431 Request Header Fields Too Large" and closes). So
 * Bun's limits are set past ours and ours decide, with the error envelope. Bodies: Bun's limit
 * is lifted entirely, because we never read a body past ours (Content-Length is checked first,
 * chunked bodies are refused). Headers: Bun must buffer them whole before we see them, so its
 * limit stays, at 1 MiB; only beyond that does a client still get Bun's bare 431.
 */
export const BUN_MAX_HEADER_BYTES = 1024 * 1024
export const BUN_MAX_BODY_BYTES = Number.MAX_SAFE_INTEGER

/** Throws the envelope's 413/411/431 for a request over our limits; cheap enough for every request. */
export function checkRequestSize(headers: Headers, maxBody = MAX_BODY_BYTES): void {
  const length = headers.get("content-length")
  if (length !== null) {
    if (Number(length) > maxBody) throw payloadTooLarge(maxBody)
  } else if (headers.get("transfer-encoding")?.toLowerCase().includes("chunked")) {
    // Reading a chunked body to find its size would mean buffering it: ask for a length.
    throw lengthRequired()
  }
  let size = 0
  for (const [name, value] of headers) size += name.length + value.length + 4
  if (size > MAX_HEADER_BYTES) throw headersTooLarge(MAX_HEADER_BYTES)
}

export class PortInUseError extends Error {
  override name = "PortInUseError"
  constructor(readonly port: number) {
    super(`port ${port} is already in use`)
  }
}

interface Listenable<T> {
  listen(options: {
    hostname: string
    port: number
    reusePort: boolean
    maxRequestBodySize: number
  }): T
}

/**
 * Binds the port exclusively. Elysia asks Bun for SO_REUSEPORT by default, which lets a second
 * process bind the same port and silently share its traffic (and split every in-memory rate
 * limit); here a taken port is a PortInUseError instead.
 */
export function listen<T>(
  app: Listenable<T>,
  { hostname, port }: { hostname: string; port: number },
): T {
  // Process-wide, so set where the server starts rather than when an app is built.
  ;(http as { maxHeaderSize: number }).maxHeaderSize = BUN_MAX_HEADER_BYTES
  try {
    return app.listen({ hostname, port, reusePort: false, maxRequestBodySize: BUN_MAX_BODY_BYTES })
  } catch (error) {
    if ((error as { code?: unknown }).code === "EADDRINUSE") throw new PortInUseError(port)
    throw error
  }
}
