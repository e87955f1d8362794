import { t } from "elysia"
import { ChatId, Text } from "../../model"
import { Language } from "../preferences/model"

const NotificationStatus = t.Union(
  [
    t.Literal("scheduled"),
    t.Literal("queued"),
    t.Literal("sent"),
    t.Literal("partial"),
    t.Literal("failed"),
    t.Literal("skipped"),
    t.Literal("undeliverable"),
  ],
  {
    description:
      "scheduled before its send_at; queued while any delivery is queued; then sent (every delivery sent, skipped ones aside), partial (some sent, some failed), failed (none sent, some failed) or skipped (every delivery skipped by the user's preferences); undeliverable: the user had no active, unblocked chat",
    examples: ["queued"],
  },
)
const DeliveryStatus = t.Union(
  [t.Literal("queued"), t.Literal("sent"), t.Literal("failed"), t.Literal("skipped")],
  { description: "queued → sent, failed (with error) or skipped (error muted)" },
)
/** Errors the bot reports. */
export const DeliveryError = t.Union(
  [t.Literal("blocked"), t.Literal("chat_not_found"), t.Literal("rejected")],
  {
    description:
      "blocked: the user blocked the bot (or it left the group; the chat is marked blocked); chat_not_found: Telegram does not know the chat; rejected: Telegram refused the message itself",
  },
)
const DeliveryErrorView = t.Union(
  [
    t.Literal("blocked"),
    t.Literal("chat_not_found"),
    t.Literal("rejected"),
    t.Literal("expired"),
    t.Literal("muted"),
  ],
  {
    description:
      "failed: blocked (the user blocked the bot, or it left the group), chat_not_found, rejected (Telegram refused the message), expired (not sent by expires_at); skipped: muted (the user's preferences said no)",
  },
)

export const AcceptedNotification = t.Object({
  id: t.String(),
  status: NotificationStatus,
  deliveries: t.Array(t.Object({ telegram_chat_id: t.Integer(), status: DeliveryStatus })),
})

export const NotificationView = t.Object({
  id: t.String(),
  status: NotificationStatus,
  created_at: t.String(),
  deliveries: t.Array(
    t.Object({
      telegram_chat_id: t.Integer(),
      status: DeliveryStatus,
      sent_at: t.Nullable(t.String()),
      error: t.Nullable(DeliveryErrorView),
      language: t.Nullable(
        t.Union([t.Literal("en"), t.Literal("ru"), t.Literal("es")], {
          description:
            "The version it went in: a translation's language, or en for `text`; null until first handed to the bot",
          examples: ["ru"],
        }),
      ),
    }),
  ),
})

const BotMessageSchema = t.Object({
  text: t.String(),
  parse_mode: t.Optional(t.Literal("HTML")),
  reply_markup: t.Optional(
    t.Object({
      inline_keyboard: t.Array(t.Array(t.Object({ text: t.String(), url: t.String() }))),
    }),
  ),
  disable_notification: t.Optional(t.Literal(true)),
  protect_content: t.Optional(t.Literal(true)),
  link_preview_options: t.Optional(t.Object({ is_disabled: t.Literal(true) })),
})

export const NotificationIdParams = t.Object({ id: Text({ format: "uuid" }) })

export const MAX_LEASE = 100
export const MAX_WAIT_SECONDS = 25

export const LeaseRequest = t.Object({
  max: t.Optional(
    t.Integer({ minimum: 1, maximum: MAX_LEASE, description: "At most this many (default 50)" }),
  ),
  wait_seconds: t.Optional(
    t.Integer({
      minimum: 0,
      maximum: MAX_WAIT_SECONDS,
      description: "When nothing is due, wait up to this long for something to be (default 0)",
    }),
  ),
})

export const Lease = t.Object({
  lease_id: t.String(),
  lease_expires_at: t.String({ description: "Unreported deliveries are leased again after this" }),
  lease_seconds: t.Integer(),
  deliveries: t.Array(
    t.Object({
      id: t.Integer(),
      notification_id: t.String(),
      telegram_chat_id: t.Integer(),
      text: t.String({ description: "messages[0].text (for bots that predate messages)" }),
      attempts: t.Integer({ description: "Times leased, this one included" }),
      messages: t.Array(BotMessageSchema, {
        description:
          "The sendMessage parameters to send to the chat, in order, without chat_id: the parts not yet sent (a split text is several; buttons go on the last). Send them one after the other, nothing else to that chat in between",
        examples: [
          [
            {
              text: "<b>Your reading is ready</b>",
              parse_mode: "HTML",
              reply_markup: {
                inline_keyboard: [[{ text: "Open", url: "https://example.com/readings/42" }]],
              },
              disable_notification: true,
            },
          ],
        ],
      }),
      language: Language,
    }),
  ),
})

export const ReportRequest = t.Object({
  results: t.Array(
    t.Object({
      id: t.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
      lease_id: Text({ format: "uuid" }),
      outcome: t.Union([t.Literal("sent"), t.Literal("retry"), t.Literal("failed")]),
      retry_after_seconds: t.Optional(
        t.Integer({
          minimum: 0,
          maximum: 86_400,
          description: "retry: not before this (default 0)",
        }),
      ),
      error: t.Optional(DeliveryError),
      parts_sent: t.Optional(
        t.Integer({
          minimum: 0,
          maximum: 100,
          description:
            "retry or failed: how many of the leased messages Telegram accepted before the failure; the next lease hands only the rest",
          examples: [2],
        }),
      ),
      chat_id: t.Optional(
        ChatId({
          description:
            "sent: the chat it reached, when Telegram moved it (a group became a supergroup)",
        }),
      ),
    }),
    { minItems: 1, maxItems: MAX_LEASE },
  ),
})

export const ReportResult = t.Object({
  applied: t.Integer({ description: "Results recorded" }),
  stale: t.Integer({
    description: "Results ignored: the lease had expired and the delivery was leased again",
  }),
})
