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
  { command: "start", description: "Welcome and how to link your account" },
  { command: "link", description: "Link your NPS account: /link <api_key>" },
  { command: "help", description: "List all commands" },
  { command: "status", description: "Your linked account and counts" },
  { command: "profile", description: "Your Oracle profiles" },
  { command: "unlink", description: "Disconnect this chat from your NPS account" },
]

const GET_A_KEY = "Create one in the NPS web app under Settings → API Keys."

// The API's own response types (via Eden), narrowed to what a reply shows.
type StatusView = Pick<LinkedStatus, "username" | "role" | "oracle_profile_count" | "reading_count">
type ProfileView = Pick<Profile, "name" | "birthday">

export const texts = {
  start: (): Reply =>
    format`Welcome to ${bold("NPS Oracle Bot")}!

Link your NPS account to see your account and Oracle profiles right here in Telegram.

${bold("Quick start")}
1. In the NPS web app, open Settings → API Keys
2. Create an API key
3. Send ${code("/link YOUR_API_KEY")} in this private chat

Use /help to see every command.`,

  help: (): Reply =>
    format`${bold("Commands")}
${join([...COMMANDS], (c) => format`/${c.command} — ${c.description}`, "\n")}`,

  linkUsage: (): Reply => format`Usage: ${code("/link <api_key>")}

${GET_A_KEY} Send it only in this private chat.`,

  linkInvalid: (): Reply => `Invalid API key. ${GET_A_KEY}`,

  linkInactive: (): Reply =>
    "Invalid account: the user this API key belongs to is not active. Contact an NPS administrator.",

  linkThrottled: (): Reply =>
    "Too many link attempts from this chat. Please wait a minute and try again.",

  linked: (username: string): Reply =>
    format`Account linked! Welcome, ${bold(username)}.
Use /help to see available commands.`,

  privateOnly: (): Reply =>
    "For your security, /link works only in a private chat with me. Open a private chat with me and send /link <api_key> there.",

  /** A key posted in a group reached every member's device before it was deleted. */
  keyExposedInGroup: (): Reply =>
    "I removed your message, but others in this chat may have seen the key: revoke it in the NPS web app (Settings → API Keys) and create a new one.",

  /** Prefixed to the link outcome when the message with the key could not be deleted. */
  notDeleted: (): Reply =>
    "⚠️ I could not delete your message, so your API key is still visible in this chat. Delete the message yourself and revoke the key in the NPS web app (Settings → API Keys), then create a new one.",

  status: (s: StatusView): Reply =>
    format`${bold("Your NPS account")}
Username: ${bold(s.username)}
Role: ${s.role}
Oracle profiles: ${String(s.oracle_profile_count)}
Readings: ${String(s.reading_count)}`,

  notLinked: (): Reply =>
    "Not linked. Use /link <api_key> in a private chat with me to connect your NPS account.",

  profiles: (profiles: readonly ProfileView[]): Reply =>
    format`${bold("Your Oracle profiles")}
${join([...profiles], (p) => format`• ${bold(p.name)} — born ${p.birthday}`, "\n")}`,

  noProfiles: (): Reply => "No Oracle profiles found. Create one in the NPS web app.",

  unlinked: (): Reply =>
    "This chat is now unlinked from your NPS account. Use /link <api_key> to connect again.",

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
