import { Type } from "@sinclair/typebox"
import { t } from "elysia"
import { ChatId } from "../../model"

// Elysia's t.Integer also takes numeric strings (a decoding transform, meant for input); in a
// response that documents counts as maybe-strings and makes every reply go through TypeBox's
// interpreted Encode. Counts we produce are plain integers: checked by the compiled validator.
const Count = Type.Integer({ minimum: 0 })

export const TelegramLinkRequest = t.Object({
  telegram_chat_id: ChatId,
  telegram_username: t.Optional(t.Nullable(t.String({ maxLength: 100 }))),
  api_key: t.String({ minLength: 1, maxLength: 200, description: "The user's raw NPS API key" }),
})

export const TelegramLinkResponse = t.Object({
  telegram_chat_id: t.Integer(),
  telegram_username: t.Nullable(t.String()),
  user_id: t.String(),
  username: t.String(),
  role: t.String(),
  linked_at: t.String(),
  is_active: t.Boolean(),
})

export const TelegramUserStatus = t.Union([
  t.Object({
    linked: t.Literal(true),
    username: t.String(),
    role: t.String(),
    oracle_profile_count: Count,
    reading_count: Count,
  }),
  t.Object({ linked: t.Literal(false) }),
])

export const UnlinkResponse = t.Object({
  telegram_chat_id: t.Integer(),
  is_active: t.Literal(false),
})
