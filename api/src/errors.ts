// The contract's error envelope, in one place: {"error": "<code>", "message": "<for humans>"}.
import { QUERY_TIMEOUT } from "@nps/db"
import type { TSchema } from "@sinclair/typebox"
import { Value } from "@sinclair/typebox/value"

/**
 * The pattern of every string the API accepts (model.ts Text). Postgres cannot store or compare
 * NUL (U+0000) in text, so a NUL would otherwise reach it and fail as a 500.
 */
export const NO_NUL = "^[^\\u0000]*$"

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
  }
}

export const unauthorized = (message = "Missing or invalid credentials") =>
  new ApiError(401, "unauthorized", message)
export const forbidden = (message: string) => new ApiError(403, "forbidden", message)
export const notFound = (code: string, message: string) => new ApiError(404, code, message)
export const tooManyRequests = (retryAfterSeconds: number) =>
  new ApiError(429, "rate_limited", "Too many requests; try again later", {
    "retry-after": String(retryAfterSeconds),
  })
/** `cause`: the driver's error, kept for the log. */
export const databaseUnavailable = (cause?: unknown) =>
  Object.assign(
    new ApiError(503, "database_unavailable", "The database is unavailable; try again shortly"),
    { cause },
  )
export const payloadTooLarge = (limit: number) =>
  new ApiError(413, "payload_too_large", `Request bodies are limited to ${limit} bytes`)
export const headersTooLarge = (limit: number) =>
  new ApiError(431, "headers_too_large", `Request headers are limited to ${limit} bytes`)
export const lengthRequired = () =>
  new ApiError(411, "length_required", "Send the request body with a Content-Length header")

// postgres.js / Bun socket codes, SQLSTATE classes 08 (connection) and 57P0x (shutdown).
const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ConnectionRefused",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  // Our own per-query deadline (db/src/client.ts) and Postgres's statement_timeout.
  QUERY_TIMEOUT,
  "57014",
])

function causes(error: unknown): unknown[] {
  const chain: unknown[] = []
  for (let e = error; e && chain.length < 5; e = (e as { cause?: unknown }).cause) chain.push(e)
  return chain
}

const codeOf = (e: unknown) => (e as { code?: unknown } | null)?.code

export function isDatabaseUnavailable(error: unknown): boolean {
  return causes(error).some((e) => {
    const code = codeOf(e)
    // SQLSTATE 08 connection, 53 out of resources (too many connections), 57P0x shutdown.
    if (typeof code === "string" && (UNAVAILABLE_CODES.has(code) || /^(08|53|57P0)/.test(code)))
      return true
    return e instanceof Error && /PGlite is closed/i.test(e.message)
  })
}

/**
 * Why the database cannot serve this configuration, as a sentence an operator can act on (names
 * the variable, never its value); undefined when it is not a configuration problem.
 */
export function databaseConfigProblem(error: unknown): string | undefined {
  const chain = causes(error)
  const locked = chain.find((e) => e instanceof Error && e.name === "DatabaseLockedError")
  if (locked instanceof Error) return locked.message
  const code = String(codeOf(chain.findLast((e) => typeof codeOf(e) === "string")) ?? "")
  // 28P01 wrong password, 28000 no such role or not allowed by pg_hba.conf.
  if (code === "28P01" || code === "28000")
    return "the database refused the credentials in DATABASE_URL (authentication failed for its user). With docker compose: POSTGRES_PASSWORD is read only when the postgres volume is first created, so changing it later breaks the API — put back the password the volume was created with, or change the role's password in Postgres too (docs/operating.md)"
  if (code === "3D000") return "the database named in DATABASE_URL does not exist"
  return undefined
}

export const isUniqueViolation = (error: unknown) =>
  causes(error).some((e) => codeOf(e) === "23505")

/** Postgres refused a statement (a SQLSTATE code somewhere in the chain). */
export const isDatabaseError = (error: unknown) =>
  causes(error).some((e) => /^[0-9A-Z]{5}$/.test(String(codeOf(e))))

/**
 * What of a failed query may be logged: the driver's code and message. Never the error itself:
 * Drizzle's message and stack carry the SQL's bound values, among them API-key hashes.
 */
export function describeForLog(error: unknown): Record<string, string> {
  const driver = causes(error).findLast((e) => typeof codeOf(e) === "string")
  if (driver instanceof Error) {
    return { name: driver.name, code: String(codeOf(driver)), message: driver.message }
  }
  // No driver code (PGlite closed, a WASM abort): the deepest cause that is not a query error
  // (Drizzle's carry the SQL and its parameters in `params`, in their message and stack).
  const plain = causes(error).findLast((e) => !(e && typeof e === "object" && "params" in e))
  if (!(plain instanceof Error))
    return { message: plain === undefined ? "a query failed" : String(plain) }
  return { name: plain.name, message: plain.message, stack: plain.stack ?? "" }
}

export interface ErrorReply {
  status: number
  body: { error: string; message: string }
  headers: Record<string, string>
}

const reply = (status: number, error: string, message: string, headers = {}): ErrorReply => ({
  status,
  body: { error, message },
  headers,
})

interface Issue {
  path?: string
  message?: string
  value?: unknown
  schema?: {
    anyOf?: TSchema[]
    description?: string
    pattern?: string
    format?: string
  }
}

const FORMAT_NAMES: Record<string, string> = { uuid: "must be a UUID" }

// TypeBox reports coercible fields (numbers in paths and JSON) as a union; name the real type.
function describeIssue(issue: Issue | undefined): string {
  if (!issue?.message) return "does not match the schema"
  // A nullable field given a non-null value: what is wrong is what its non-null form says.
  const anyOf = issue.schema?.anyOf
  if (anyOf?.some((s) => s.type === "null") && issue.value !== null) {
    for (const member of anyOf.filter((s) => s.type !== "null")) {
      const inner = Value.Errors(member, issue.value).First()
      if (inner) return describeIssue(inner as Issue)
    }
  }
  // TypeBox words a failed format and a failed pattern alike ("Expected string to match …").
  const format = issue.schema?.format
  if (format && issue.message === `Expected string to match '${format}' format`)
    return (
      FORMAT_NAMES[format] ??
      (issue.schema?.description ? `Expected ${issue.schema.description}` : issue.message)
    )
  if (issue.schema?.pattern === NO_NUL && issue.message.startsWith("Expected string to match"))
    return "must not contain NUL characters"
  // A regex or format name means little to a client; the field's description says what is
  // expected.
  if (issue.message.startsWith("Expected string to match") && issue.schema?.description)
    return `Expected ${issue.schema.description}`
  if (issue.message !== "Expected union value" || !issue.schema?.anyOf) return issue.message
  const types = issue.schema.anyOf.map((s) => s.type).filter((t) => t && t !== "string")
  return types.length ? `Expected ${types[0]}` : issue.message
}

/**
 * Maps anything thrown during a request to the envelope. Validation messages name the field
 * and the rule, never the submitted value (it may be an API key or a password).
 */
export function toErrorReply(code: string | number, error: unknown): ErrorReply {
  // Elysia wraps what a parse or transform step throws; our own error decides the reply.
  const own = causes(error).find((e) => e instanceof ApiError)
  if (own instanceof ApiError) return reply(own.status, own.code, own.message, own.headers)
  switch (code) {
    case "VALIDATION": {
      const v = error as { type?: string; all?: Issue[] }
      const first = v.all?.[0]
      const field = first?.path?.replace(/^\//, "").replaceAll("/", ".") || v.type || "request"
      return reply(422, "validation_error", `Invalid ${field}: ${describeIssue(first)}`)
    }
    case "PARSE":
      return reply(400, "malformed_body", "The request body is not valid JSON")
    case "NOT_FOUND":
      return reply(404, "not_found", "No such endpoint")
  }
  if (isDatabaseUnavailable(error)) {
    const e = databaseUnavailable()
    return reply(e.status, e.code, e.message)
  }
  // A race lost to a concurrent writer; the client may simply retry.
  if (isUniqueViolation(error)) return reply(409, "conflict", "The resource already exists")
  return reply(500, "internal_error", "Something went wrong; it has been logged")
}
