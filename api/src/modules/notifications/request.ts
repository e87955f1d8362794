// The body of POST /api/telegram/notifications (and of the admin CLI's notify): what a
// notification can carry, each field described with an example for /swagger.
import { t } from "elysia"
import { Instant } from "../../instant"
import { Text } from "../../model"
import { CATEGORY_PATTERN } from "../preferences/model"

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
