// The /settings screen: its text, its buttons, and the callback data those buttons carry.
// Callback data is short and versioned (a new version's id differs, so an old message's buttons
// read as stale), and never carries a user or chat id: who may act comes from Telegram's own
// `from` and `message.chat` of the tap, checked in callbacks.ts.
import { CallbackData } from "@gramio/callback-data"
import { InlineKeyboard } from "@gramio/keyboards"
import type { Preferences, PreferencesPatch } from "../api-client"
import type { Reply, Texts } from "../i18n"
import { LANGUAGE_NAMES, LANGUAGES } from "../i18n/language"

const QUIET_HOURS = { start: "22:00", end: "08:00" } as const

/** The buttons under /settings other than the categories. */
export const settingsAction = new CallbackData("settings.v1").enum("do", [
  "mute1",
  "mute8",
  "unmute",
  "quiet_on",
  "quiet_off",
] as const)
export type SettingsAction = ReturnType<typeof settingsAction.unpack>["do"]

/** A category switched on or off (the state it goes to, so a repeated tap changes nothing). */
export const categorySwitch = new CallbackData("category.v1")
  .enum("to", ["on", "off"] as const)
  .string("name")

/** A category name as the API accepts it (CONTRACT `category`). */
export const CATEGORY = /^[a-z0-9_-]{1,32}$/

export const languagePick = new CallbackData("language.v1").enum("lang", LANGUAGES)

const HOUR_MS = 3_600_000

/** What a settings button changes. */
export function patchFor(action: SettingsAction, now: number): PreferencesPatch {
  switch (action) {
    case "mute1":
      return { muted_until: new Date(now + HOUR_MS).toISOString() }
    case "mute8":
      return { muted_until: new Date(now + 8 * HOUR_MS).toISOString() }
    case "unmute":
      return { muted_until: null }
    case "quiet_on":
      return { quiet_hours: { ...QUIET_HOURS } }
    case "quiet_off":
      return { quiet_hours: null }
  }
}

/** The screen for these preferences: one message, its text and its keyboard. */
export function settingsScreen(
  p: Preferences,
  t: Texts,
  now: number,
): { text: Reply; reply_markup: InlineKeyboard } {
  const mutedUntil =
    p.muted_until && Date.parse(p.muted_until) > now ? new Date(p.muted_until) : undefined
  const categories = Object.entries(p.categories).sort(([a], [b]) =>
    a === "general" ? -1 : b === "general" ? 1 : a.localeCompare(b),
  )
  const b = t.settingsButtons
  const keyboard = new InlineKeyboard()
  categories.forEach(([name, on], i) => {
    if (i > 0 && i % 2 === 0) keyboard.row()
    keyboard.text(
      on ? b.categoryOn(name) : b.categoryOff(name),
      categorySwitch.pack({ to: on ? "off" : "on", name }),
    )
  })
  keyboard.row()
  if (mutedUntil) keyboard.text(b.unmute, settingsAction.pack({ do: "unmute" }))
  else
    keyboard
      .text(b.mute1h, settingsAction.pack({ do: "mute1" }))
      .text(b.mute8h, settingsAction.pack({ do: "mute8" }))
  keyboard.row()
  keyboard.text(
    p.quiet_hours ? b.quietOff : b.quietOn,
    settingsAction.pack({ do: p.quiet_hours ? "quiet_off" : "quiet_on" }),
  )
  const text = t.settings({
    mutedUntil,
    timeZone: p.time_zone,
    quietHours: p.quiet_hours,
    categories,
  })
  return { text, reply_markup: keyboard }
}

/** The /language buttons, each language named in itself. */
export function languageKeyboard(): InlineKeyboard {
  const keyboard = new InlineKeyboard()
  for (const lang of LANGUAGES) keyboard.text(LANGUAGE_NAMES[lang], languagePick.pack({ lang }))
  return keyboard
}
