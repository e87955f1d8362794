// ISO 8601 instants in request bodies (send_at, expires_at, muted_until): an explicit offset is
// required, so "8 o'clock" never means the server's zone; and the date must exist, since
// Date.parse quietly rolls February 30th over into March.
import { t } from "elysia"
import { ApiError } from "./errors"

const INSTANT =
  "^(\\d{4})-(\\d{2})-(\\d{2})T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:\\d{2})$"
const INSTANT_RE = new RegExp(INSTANT)

/** The schema of an instant field; `parseInstant` does the checks a pattern cannot. */
export const Instant = (description: string, example: string) =>
  t.String({ pattern: INSTANT, description, examples: [example] })

/** The instant, or a 422 naming the field when no such moment exists (2026-02-30, hour 25). */
export function parseInstant(field: string, value: string): Date {
  const match = INSTANT_RE.exec(value)
  const [year, month, day] = [match?.[1], match?.[2], match?.[3]].map(Number) as number[]
  const ms = Date.parse(value)
  const daysInMonth = new Date(Date.UTC(year as number, month as number, 0)).getUTCDate()
  if (!match || Number.isNaN(ms) || (day as number) > daysInMonth || year === 0)
    throw new ApiError(422, "validation_error", `Invalid ${field}: no such instant (${value})`)
  return new Date(ms)
}
