import { Type } from "@sinclair/typebox"
import { t } from "elysia"
import { ChatId, Text } from "../../model"

const TelegramUsername = t.Optional(t.Nullable(Text({ maxLength: 100 })))

// Elysia's t.Integer also takes numeric strings (a decoding transform, meant for input); in a
// response that documents counts as maybe-strings and makes every reply go through TypeBox's
// interpreted Encode. Counts we produce are plain integers: checked by the compiled validator.
const Count = Type.Integer({ minimum: 0 })

export const TelegramLinkRequest = t.Object({
  telegram_chat_id: ChatId(),
  telegram_username: TelegramUsername,
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

export const LinkTokenResponse = t.Object({
  token: t.String({
    description: "One-time token (≤ 64 characters of A-Za-z0-9_-), valid 10 minutes",
  }),
  url: t.Nullable(
    t.String({
      description:
        "https://t.me/<bot>?start=<token>: opening it links the user's Telegram chat in one tap (null when TELEGRAM_BOT_USERNAME is unset)",
    }),
  ),
  expires_at: t.String({ description: "ISO 8601" }),
})

export const LinkTokenRedeemRequest = t.Object({
  token: Text({
    pattern: "^[A-Za-z0-9_-]{1,64}$",
    description: "the token from the deep link: 1–64 characters of A-Za-z0-9_-",
  }),
  telegram_chat_id: ChatId(),
  telegram_username: TelegramUsername,
})

export const TelegramLinkSummary = t.Object({
  telegram_chat_id: t.Integer(),
  telegram_username: t.Nullable(t.String()),
  linked_at: t.String(),
  last_active: t.Nullable(t.String()),
  is_active: t.Boolean({ description: "The user wants this link (false once unlinked)" }),
  blocked: t.Boolean({ description: "The user blocked the bot in this chat (or removed it)" }),
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

export const ChatBlockedRequest = t.Object({
  blocked: t.Boolean({ description: "true: the bot cannot reach the chat; false: it can again" }),
})

export const ChatMigrationRequest = t.Object({
  to_chat_id: ChatId(),
})

/** A chat's link as the bot's bookkeeping endpoints answer it. */
export const ChatState = t.Object({
  telegram_chat_id: t.Integer(),
  is_active: t.Boolean(),
  blocked: t.Boolean(),
})
