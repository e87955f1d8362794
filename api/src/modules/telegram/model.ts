import { t } from "elysia"
import { ChatId, Text } from "../../model"

export const TelegramLinkRequest = t.Object({
  telegram_chat_id: ChatId,
  telegram_username: t.Optional(t.Nullable(Text({ maxLength: 100 }))),
  api_key: Text({ minLength: 1, maxLength: 200, description: "The user's raw NPS API key" }),
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
    oracle_profile_count: t.Integer(),
    reading_count: t.Integer(),
  }),
  t.Object({ linked: t.Literal(false) }),
])

export const UnlinkResponse = t.Object({
  telegram_chat_id: t.Integer(),
  is_active: t.Literal(false),
})
