// English: the reference dictionary. Its shape is the type every other language must satisfy.
import { bold, code, format, join } from "@gramio/format"
import { COMMAND_NAMES } from "../commands/names"
import { formatDateTime, plural } from "./plural"
import type {
  CommandDescriptions,
  ProfileView,
  Reply,
  SettingsButtons,
  SettingsView,
  StatusView,
} from "./views"

// Where links and keys come from, in this product's own terms: its API and its admin CLI.
const GET_A_LINK =
  'Get a one-tap link from NPS: an app\'s "Connect Telegram" button, or POST /api/telegram/link-tokens with your NPS login or API key. It works once, within 10 minutes.'
const GET_A_KEY =
  "Create a key with POST /api/auth/api-keys, or ask your NPS operator for one (admin CLI: create-key)."
const REVOKE_A_KEY =
  "revoke it (DELETE /api/auth/api-keys/<id>, or ask your NPS operator) and create a new one"

const commands: CommandDescriptions = {
  start: "Welcome, and how to link your account",
  link: "Link your NPS account with an API key: /link <api_key>",
  help: "List all commands",
  status: "Your linked account and counts",
  profile: "Your Oracle profiles",
  unlink: "Disconnect this chat from your NPS account",
  settings: "Notifications: categories, mute, quiet hours",
  timezone: "Set your time zone: /timezone Europe/Berlin",
  language: "Choose the bot's language",
}

const buttons: SettingsButtons = {
  categoryOn: (name) => `✅ ${name}`,
  categoryOff: (name) => `🔕 ${name}`,
  mute1h: "Mute 1 hour",
  mute8h: "Mute 8 hours",
  unmute: "Unmute",
  quietOn: "Quiet hours 22:00–08:00",
  quietOff: "Turn off quiet hours",
}

export const en = {
  commands,
  /** setMyDescription: what an empty chat with the bot shows (≤ 512 characters). */
  description:
    "NPS Oracle Bot brings your NPS account to Telegram: your account, your Oracle profiles and notifications from NPS services. Tap Start, then link your account with a one-tap link from NPS or /link <api_key>.",
  /** setMyShortDescription: the bot's profile page and shared links (≤ 120 characters). */
  shortDescription: "Your NPS account, Oracle profiles and notifications, in Telegram.",

  start: (): Reply =>
    format`Welcome to ${bold("NPS Oracle Bot")}!

Link your NPS account to see your account and Oracle profiles right here in Telegram.

${bold("Link in one tap")}
${GET_A_LINK} Opening it brings you here and links this chat.

${bold("Or link with an API key")}
1. ${GET_A_KEY}
2. Send ${code("/link YOUR_API_KEY")} in this private chat (I delete the message at once)

Use /help to see every command.`,

  help: (): Reply =>
    format`${bold("Link this chat")}: open a one-tap link from NPS (POST /api/telegram/link-tokens), or send /link <api_key>.

${bold("Commands")}
${join([...COMMAND_NAMES], (name) => `/${name} — ${commands[name]}`, "\n")}`,

  linkUsage: (): Reply => format`Usage: ${code("/link <api_key>")}

Easier, and no key to paste: ${GET_A_LINK}

${GET_A_KEY} Send a key only in this private chat.`,

  linkInvalid: (): Reply => `Invalid API key. ${GET_A_KEY}`,
  linkInactive: (): Reply =>
    "Invalid account: this NPS user is not active. Contact an NPS administrator.",
  linkThrottled: (): Reply =>
    "Too many link attempts from this chat. Please wait a minute and try again.",
  /** A deep link's token is unknown, used or older than 10 minutes. */
  linkExpired: (): Reply =>
    `This link has expired or was already used. ${GET_A_LINK} Or send /link <api_key>.`,
  linked: (username: string): Reply =>
    format`Account linked! Welcome, ${bold(username)}.
Use /help to see available commands.`,
  privateOnly: (): Reply =>
    "For your security, /link works only in a private chat with me. Open a private chat with me and send /link <api_key> there.",
  /** /start <token> in a group: links are personal. */
  startPrivateOnly: (): Reply =>
    "For your security, link tokens work only in a private chat with me: open the link again, and it will bring you to one.",
  /** A key posted in a group reached every member's device before it was deleted. */
  keyExposedInGroup: (): Reply =>
    `I removed your message, but others in this chat may have seen the key: ${REVOKE_A_KEY}.`,
  /** Prefixed to the link outcome when the message with the key could not be deleted. */
  notDeleted: (): Reply =>
    `⚠️ I could not delete your message, so your API key is still visible in this chat. Delete the message yourself and ${REVOKE_A_KEY}.`,

  status: (s: StatusView): Reply =>
    format`${bold("Your NPS account")}
Username: ${bold(s.username)}
Role: ${s.role}
Oracle profiles: ${String(s.oracle_profile_count)}
Readings: ${String(s.reading_count)}`,
  notLinked: (): Reply =>
    "Not linked. Open a one-tap link from NPS (POST /api/telegram/link-tokens), or send /link <api_key> in a private chat with me.",
  profiles: (profiles: readonly ProfileView[]): Reply =>
    format`${bold(`You have ${plural("en", profiles.length, { one: "Oracle profile", other: "Oracle profiles" })}`)}
${join([...profiles], (p) => format`• ${bold(p.name)} — born ${p.birthday}`, "\n")}`,
  noProfiles: (): Reply => "No Oracle profiles found. Create one with POST /api/oracle/profiles.",
  unlinked: (): Reply =>
    "This chat is now unlinked from your NPS account. To connect again, open a new one-tap link from NPS or send /link <api_key>.",

  slowDown: (limit: number): Reply =>
    `Slow down! You can send up to ${limit} messages a minute. I'll ignore further messages for a moment.`,
  unavailable: (): Reply =>
    "The NPS service is temporarily unavailable. Please try again in a minute.",
  somethingWrong: (): Reply => "Something went wrong. Please try again.",
  unknownCommand: (): Reply => "I don't know that command. Send /help to see what I can do.",
  plainText: (): Reply => "I only understand commands. Send /help to see them.",

  settings: (v: SettingsView): Reply =>
    format`${bold("Notifications")}
${v.mutedUntil ? `🔕 Muted until ${formatDateTime("en", v.mutedUntil, v.timeZone)}` : "🔔 On"}
Quiet hours: ${v.quietHours ? `${v.quietHours.start}–${v.quietHours.end}` : "off"}
Time zone: ${v.timeZone} (change it with /timezone <zone>)

Tap a category to switch it on or off.`,
  settingsButtons: buttons,
  /** The toast a tap shows once the change is saved. */
  saved: "Saved",
  /** A button from an older message, or data no button of ours carries. */
  staleButton: "This button is no longer valid. Send /settings again.",
  /** Someone else's settings message (a forwarded or group message). */
  notYourButton: "These settings belong to someone else.",

  timezoneUsage: (): Reply =>
    format`Usage: ${code("/timezone <zone>")}, for example ${code("/timezone Europe/Berlin")}. Zones are IANA names: Area/City.`,
  timezoneSet: (zone: string): Reply =>
    format`Time zone set: ${bold(zone)}. Quiet hours and mute times follow it.`,
  timezoneUnknown: (zone: string): Reply =>
    format`Unknown time zone: ${code(zone)}. Use an IANA name such as ${code("Europe/Berlin")} or ${code("America/New_York")}.`,

  languagePrompt: (): Reply => "Choose the language I speak with you:",
  languageSet: (): Reply => "Done: I'll speak English with you from now on.",
}

export type Texts = typeof en
