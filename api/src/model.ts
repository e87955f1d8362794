import { t } from "elysia"
import { ApiError } from "./errors"

// Shared shapes; each module's own schemas live in its model.ts.
export const ErrorBody = t.Object(
  { error: t.String(), message: t.String() },
  { description: "Every error: a stable code and a sentence for humans" },
)

export const errorResponses = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  422: ErrorBody,
  429: ErrorBody,
  503: ErrorBody,
}

// Telegram chat ids have at most 52 significant bits; group ids are negative.
export const MAX_CHAT_ID = Number.MAX_SAFE_INTEGER
export const ChatId = t.Integer({ minimum: -MAX_CHAT_ID, maximum: MAX_CHAT_ID })
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
