// What the texts are given to show: plain data, already fetched and checked.
import { type FormattableString, join } from "@gramio/format"
import type { CommandName } from "../commands/names"

export type Reply = string | FormattableString

export interface StatusView {
  username: string
  role: string
  oracle_profile_count: number
  reading_count: number
}

export interface ProfileView {
  name: string
  birthday: string
}

/** The /settings screen: the user's preferences as the API holds them. */
export interface SettingsView {
  /** Set only while the mute lasts. */
  mutedUntil: Date | undefined
  timeZone: string
  quietHours: { start: string; end: string } | null
  categories: [name: string, on: boolean][]
}

/** The labels of the /settings buttons. */
export interface SettingsButtons {
  categoryOn: (name: string) => string
  categoryOff: (name: string) => string
  mute1h: string
  mute8h: string
  unmute: string
  quietOn: string
  quietOff: string
}

export type CommandDescriptions = Record<CommandName, string>

/** Joins the deletion warning and the outcome into one message: one reply per update. */
export const withWarning = (warning: Reply | undefined, reply: Reply): Reply =>
  warning ? join([warning, reply], "\n\n") : reply
