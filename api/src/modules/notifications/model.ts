import { t } from "elysia"
import { Instant } from "../../instant"
import { ChatId, Text } from "../../model"
import { CATEGORY_PATTERN, Language } from "../preferences/model"

/** Telegram's own limit for one message (visible text, UTF-16 units). */
export const MAX_TEXT_LENGTH = 4096
/** Source length of a text (HTML tags included); the visible length is checked after parsing. */
const MAX_SOURCE_LENGTH = 65_536

const MessageText = (description: string, example: string) =>
  t.String({
    minLength: 1,
    maxLength: MAX_SOURCE_LENGTH,
    // Telegram refuses a message of only whitespace; Postgres cannot store NUL.
    pattern: "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$",
    description,
    examples: [example],
  })

const Button = t.Object({
  text: Text({ minLength: 1, maxLength: 64, description: "1–64 characters", examples: ["Open"] }),
  url: Text({
    maxLength: 2048,
    pattern: "^(https|tg)://",
    description: "an https:// or tg:// URL of at most 2048 characters",
    examples: ["https://example.com/readings/42"],
  }),
})

export const NotificationRequest = t.Object({
  username: t.Optional(Text({ minLength: 1, maxLength: 100, description: "The recipient" })),
  user_id: t.Optional(Text({ format: "uuid", description: "The recipient (instead of username)" })),
  text: MessageText(
    `1–${MAX_TEXT_LENGTH} long as Telegram counts it (UTF-16 units of the visible text; up to 32768 with split), not only whitespace, without NUL; plain text sent exactly as given, or Telegram HTML with format html`,
    "Your reading is ready",
  ),
  idempotency_key: t.Optional(
    Text({
      minLength: 1,
      maxLength: 128,
      description:
        "Your key for retries: the same key with the same body answers 200 and the same notification, never a second send; with another body, 409",
      examples: ["reading-42"],
    }),
  ),
  format: t.Optional(
    t.UnionEnum(["text", "html"], {
      description:
        'text (default): sent exactly as given, no parse_mode. html: Telegram\'s HTML subset, sent with parse_mode HTML and checked first — tags b strong i em u ins s strike del tg-spoiler code pre blockquote, span class="tg-spoiler", a href (http, https, tg), code class="language-…" inside pre, blockquote expandable; balanced and nested; entities &lt; &gt; &amp; &quot; and numeric. Anything else: 422 invalid_html naming the first problem and its character offset',
      examples: ["html"],
    }),
  ),
  buttons: t.Optional(
    t.Array(t.Array(Button, { minItems: 1, maxItems: 3 }), {
      minItems: 1,
      maxItems: 3,
      description:
        "Link buttons under the message (the last part of a split one): at most 3 rows of at most 3, sent as reply_markup.inline_keyboard",
      examples: [[[{ text: "Open", url: "https://example.com/readings/42" }]]],
    }),
  ),
  silent: t.Optional(
    t.Boolean({ description: "true: sent with disable_notification (no sound)", examples: [true] }),
  ),
  protect_content: t.Optional(
    t.Boolean({
      description: "true: sent with protect_content (no forwarding or saving)",
      examples: [true],
    }),
  ),
  link_preview: t.Optional(
    t.Boolean({
      description: "false: sent with link_preview_options.is_disabled (no link preview)",
      examples: [false],
    }),
  ),
  split: t.Optional(
    t.Boolean({
      description:
        "true: the text may be up to 32768 long and goes as consecutive messages of at most 4096, cut at the last blank line before the limit, else line break, else space; HTML tags open at a cut are closed and reopened; buttons on the last part; a chat gets the parts in order with nothing of ours between them",
      examples: [true],
    }),
  ),
  category: t.Optional(
    t.String({
      pattern: CATEGORY_PATTERN,
      description: "[a-z0-9_-]{1,32}, default general: what a user can switch off",
      examples: ["billing"],
    }),
  ),
  priority: t.Optional(
    t.UnionEnum(["normal", "high"], {
      description:
        "normal (default) or high: high goes through quiet hours and a mute, never through a category the user switched off",
      examples: ["high"],
    }),
  ),
  send_at: t.Optional(
    Instant(
      "ISO 8601 instant with its offset, at most 30 days ahead: nothing is sent before it (status scheduled until then); a past instant means now",
      "2026-05-01T09:00:00Z",
    ),
  ),
  expires_at: t.Optional(
    Instant(
      "ISO 8601 instant with its offset, after now and after send_at: a delivery not sent by then fails with expired, and is never sent later",
      "2026-05-01T12:00:00Z",
    ),
  ),
  translations: t.Optional(
    // A record, not an object: Elysia would quietly drop an unknown language from an object.
    t.Record(
      t.String({ pattern: "^(ru|es)$" }),
      MessageText(
        "the message in that language, under the same rules as text",
        "Ваше толкование готово",
      ),
      {
        additionalProperties: false,
        description:
          'The same message in other languages, {"ru": …, "es": …}, each under the same rules as text; a chat gets the one for its language (the user\'s language preference, else the Telegram app\'s), else text',
        examples: [{ ru: "Ваше толкование готово", es: "Tu lectura está lista" }],
      },
    ),
  ),
})

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
