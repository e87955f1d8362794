import { t } from "elysia"
import { Instant } from "../../instant"
import { Text } from "../../model"

export const LANGUAGES = ["en", "ru", "es"] as const
export type Language = (typeof LANGUAGES)[number]
// Literals, not t.UnionEnum: that one gives the schema a default ("en"), which Elysia would fill
// into every PUT that leaves language out.
export const Language = t.Union([t.Literal("en"), t.Literal("ru"), t.Literal("es")], {
  description: "en, ru or es",
  examples: ["ru"],
})

export const CATEGORY_PATTERN = "^[a-z0-9_-]{1,32}$"
export const DEFAULT_CATEGORY = "general"
const HHMM = "^([01][0-9]|2[0-3]):[0-5][0-9]$"

const QuietHours = t.Object(
  {
    start: t.String({ pattern: HHMM, description: "HH:MM, local time", examples: ["22:00"] }),
    end: t.String({ pattern: HHMM, description: "HH:MM, local time", examples: ["08:00"] }),
  },
  {
    description:
      "In the user's time zone; may span midnight. During them a `normal` notification waits (still queued) and goes when they end; a `high` one goes through",
    examples: [{ start: "22:00", end: "08:00" }],
  },
)

const mutedUntil =
  "Until then `normal` notifications are skipped (delivery status `skipped`, error `muted`); `high` ones go through"
const timeZone = "IANA time zone of the quiet hours"
const categories =
  "Category → on (true) or off (false). A category switched off skips its notifications, `high` ones included. Lists `general` and every category the user received or set"
const language =
  "The language notifications (with a translation for it) and the bot's replies use; null: the Telegram app's language"

export const Preferences = t.Object({
  muted_until: t.Nullable(
    t.String({ description: mutedUntil, examples: ["2026-05-01T18:00:00.000Z"] }),
  ),
  time_zone: t.String({ description: timeZone, examples: ["Europe/Madrid"] }),
  quiet_hours: t.Nullable(QuietHours),
  categories: t.Record(t.String(), t.Boolean(), {
    description: categories,
    examples: [{ general: true, billing: false }],
  }),
  language: t.Union([Language, t.Null()], { description: language, examples: ["ru"] }),
})

export const PreferencesUpdate = t.Object(
  {
    muted_until: t.Optional(
      t.Nullable(Instant(`${mutedUntil}. null: unmute`, "2026-05-01T18:00:00Z")),
    ),
    time_zone: t.Optional(
      t.Nullable(
        Text({
          minLength: 1,
          maxLength: 64,
          description: `${timeZone}; unknown → 422 invalid_time_zone; null: back to UTC`,
          examples: ["Europe/Madrid"],
        }),
      ),
    ),
    quiet_hours: t.Optional(t.Nullable(QuietHours)),
    categories: t.Optional(
      t.Nullable(
        t.Record(t.String({ pattern: CATEGORY_PATTERN }), t.Boolean(), {
          additionalProperties: false,
          maxProperties: 64,
          description: `Only the categories given change (each [a-z0-9_-]{1,32}); null: every category back on`,
          examples: [{ billing: false }],
        }),
      ),
    ),
    language: t.Optional(
      t.Union([Language, t.Null()], { description: `${language}; null: unset`, examples: ["ru"] }),
    ),
  },
  {
    description: "Only the fields present change; null clears one",
    examples: [{ quiet_hours: { start: "22:00", end: "08:00" }, time_zone: "Europe/Madrid" }],
  },
)

export const LanguageCodeRequest = t.Object({
  language_code: Text({
    minLength: 1,
    maxLength: 35,
    description: "The Telegram user's language_code, as the last update from the chat carried it",
    examples: ["ru"],
  }),
})

export const LanguageCodeResult = t.Object({
  language: t.Nullable(Language),
})
