import { t } from "elysia"

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
export const ChatIdParams = t.Object({ chat_id: ChatId })
