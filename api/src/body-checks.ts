// Checks of a request body that hold for every route, whatever its schema says.
import { ApiError } from "./errors"

const malformed = () => new ApiError(400, "malformed_body", "The request body is not valid JSON")

const isJson = (request: Request) =>
  /^application\/(.+\+)?json\b/i.test(request.headers.get("content-type") ?? "")

/**
 * A route that takes no body never parses one, so `{bad` would pass unseen (a 201 for a
 * malformed request). Such a body is read here and must be empty or well-formed JSON. Bodies are at most
 * 64 KiB (transport.ts), so reading one costs little.
 */
export async function refuseMalformedJson(request: Request): Promise<void> {
  if (request.bodyUsed || request.body === null || !isJson(request)) return
  const text = await request.text()
  if (text.trim() === "") return
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw malformed()
  }
  refuseIllFormedText(parsed)
}

/**
 * The path of the first string holding a lone surrogate ("\ud800"), which JSON allows and
 * JavaScript keeps but UTF-8 cannot encode: Postgres would store U+FFFD instead, and Telegram
 * refuse it. Such a string is a 422, not silently another text.
 */
function illFormedPath(value: unknown, path = ""): string | undefined {
  if (typeof value === "string") return value.isWellFormed() ? undefined : path || "body"
  if (typeof value !== "object" || value === null) return undefined
  for (const [key, item] of Object.entries(value)) {
    if (!key.isWellFormed()) return path || "body"
    const found = illFormedPath(item, path ? `${path}.${key}` : key)
    if (found) return found
  }
  return undefined
}

export function refuseIllFormedText(body: unknown): void {
  const path = illFormedPath(body)
  if (path)
    throw new ApiError(
      422,
      "validation_error",
      `Invalid ${path}: must not contain a lone surrogate (text must be well-formed UTF-16)`,
    )
}
