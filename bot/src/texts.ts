// Everything a user reads, in one place. Replies are built with @gramio/format entities, never
// parse_mode: names full of `_*[]()~>#+-=|{}.!` or emoji go out as plain text with entity ranges,
// so Telegram can never reject them as malformed markup. Key phrases come from CONTRACT.md.
import { bold, code, type FormattableString, format, join } from "@gramio/format"
import type { LinkedStatus, Profile } from "./api-client"

export type Reply = string | FormattableString

export interface CommandInfo {
  command: string
  description: string
}

/** The command menu (setMyCommands) and /help, in the order users see them. */
export const COMMANDS: readonly CommandInfo[] = [
  { command: "start", description: "Welcome, and how to link your account" },
  { command: "link", description: "Link your NPS account with an API key: /link <api_key>" },
  { command: "help", description: "List all commands" },
  { command: "status", description: "Your linked account and counts" },
  { command: "profile", description: "Your Oracle profiles" },
  { command: "unlink", description: "Disconnect this chat from your NPS account" },
]

// Where links and keys come from, in this product's own terms: its API and its admin CLI.
const GET_A_LINK =
  'Get a one-tap link from NPS: an app\'s "Connect Telegram" button, or POST /api/telegram/link-tokens with your NPS login or API key. It works once, within 10 minutes.'
const GET_A_KEY =
  "Create a key with POST /api/auth/api-keys, or ask your NPS operator for one (admin CLI: create-key)."
const REVOKE_A_KEY =
  "revoke it (DELETE /api/auth/api-keys/<id>, or ask your NPS operator) and create a new one"

// The API's own response types (via Eden), narrowed to what a reply shows.
type StatusView = Pick<LinkedStatus, "username" | "role" | "oracle_profile_count" | "reading_count">
type ProfileView = Pick<Profile, "name" | "birthday">

export const texts = {
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
${join([...COMMANDS], (c) => format`/${c.command} — ${c.description}`, "\n")}`,

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
    format`${bold("Your Oracle profiles")}
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
}

/** Joins the deletion warning and the outcome into one message: one reply per update. */
export const withWarning = (warning: Reply | undefined, reply: Reply): Reply =>
  warning ? join([warning, reply], "\n\n") : reply
