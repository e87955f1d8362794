import { Type } from "@sinclair/typebox"
import { t } from "elysia"
import { ApiError, NO_NUL } from "./errors"

// Shared shapes; each module's own schemas live in its model.ts.
/** Every string the API accepts — body, path, query — is this type (see NO_NUL). */
type StringOptions = NonNullable<Parameters<typeof t.String>[0]>
export const Text = (options: StringOptions = {}) => t.String({ pattern: NO_NUL, ...options })

/** A real calendar date Postgres can store as written: years 0001–9999, no February 30th. */
export const CalendarDate = (options: StringOptions = {}) =>
  t.String({
    // Elysia's "date" format checks the days of each month (leap years included); the
    // pattern rules out year 0000, which Postgres refuses.
    format: "date",
    pattern: "^(?!0000)[0-9]{4}-[0-9]{2}-[0-9]{2}$",
    description: "a calendar date, YYYY-MM-DD, years 0001–9999",
    ...options,
  })

// Telegram chat ids have at most 52 significant bits; group ids are negative.
export const MAX_CHAT_ID = Number.MAX_SAFE_INTEGER
// In a JSON body a chat id is a JSON number. TypeBox's own Integer, not Elysia's t.Integer: that
// one also decodes numeric strings ("0x10" → 16, "1e3" → 1000, " 77 " → 77) — another chat.
export const ChatId = (options: Parameters<typeof Type.Integer>[0] = {}) =>
  Type.Integer({ minimum: -MAX_CHAT_ID, maximum: MAX_CHAT_ID, ...options })
// In a path only plain decimal integers count: no "0x10", "1e3", "+5" or padding that Number()
// would quietly accept as some other chat.
const ChatIdText = t
  .Transform(
    t.String({
      pattern: "^-?(0|[1-9][0-9]{0,15})$",
      description: "Telegram chat id, a decimal integer in ±(2^53−1)",
    }),
  )
  .Decode((text) => {
    const id = Number(text)
    if (!Number.isSafeInteger(id))
      throw new ApiError(422, "validation_error", "Invalid chat_id: outside ±(2^53−1)")
    return id
  })
  .Encode((id) => String(id))

export const ChatIdParams = t.Object({ chat_id: ChatIdText })
