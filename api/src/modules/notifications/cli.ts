// `bun run admin notify`: the command's options and logic, apart from the CLI's argument parsing.
import type { Db } from "@nps/db"
import { Value } from "@sinclair/typebox/value"
import type { OptionSpec, Values } from "../../cli"
import { NotificationRequest } from "./request"
import { createNotification } from "./service"

const string = (value: string, description: string): OptionSpec => ({
  type: "string",
  value,
  description,
})
const flag = (description: string): OptionSpec => ({ type: "boolean", description })

export const NOTIFY_OPTIONS: Record<string, OptionSpec> = {
  username: string("U", "who to notify (required)"),
  text: string(
    "T",
    "the message (required): 1–4096 long as Telegram counts it, 32768 with --split",
  ),
  format: string(
    "text|html",
    "text (default, sent as is) or html (Telegram's HTML subset, checked)",
  ),
  button: {
    type: "string",
    value: "TEXT=URL",
    multiple: true,
    description:
      "a link button (https:// or tg://); repeat for more rows, TEXT=URL|TEXT=URL for a row of several",
  },
  silent: flag("no sound (disable_notification)"),
  "protect-content": flag("no forwarding or saving (protect_content)"),
  "no-link-preview": flag("no link preview"),
  split: flag("send a text over 4096 as several messages"),
  category: string("C", "[a-z0-9_-]{1,32}, what a user can switch off (default general)"),
  priority: string("normal|high", "high goes through quiet hours and a mute"),
  "send-at": string(
    "ISO",
    "not before this instant (at most 30 days ahead), e.g. 2026-05-01T09:00:00Z",
  ),
  "expires-at": string("ISO", "not after this instant: then it fails with expired"),
  ru: string("T", "the Russian version"),
  es: string("T", "the Spanish version"),
  json: flag("print the notification as POST /api/telegram/notifications answers it"),
}

/** "Open=https://a|Help=https://b" → one row of two buttons (split at the first "=" of each). */
function buttonRow(spec: string) {
  return spec.split("|").map((button) => {
    const at = button.indexOf("=")
    return at < 0
      ? { text: button, url: "" }
      : { text: button.slice(0, at), url: button.slice(at + 1) }
  })
}

/** The options of a POST body, from the command line's flags. */
export function notifyOptions(o: Values) {
  const str = (name: string) => (typeof o[name] === "string" ? (o[name] as string) : undefined)
  const buttons = Array.isArray(o.button) ? o.button.map(buttonRow) : undefined
  const translations = Object.fromEntries(
    (["ru", "es"] as const).flatMap((l) => (str(l) === undefined ? [] : [[l, str(l) as string]])),
  )
  return {
    ...(str("format") !== undefined && { format: str("format") }),
    ...(buttons && { buttons }),
    ...(o.silent && { silent: true }),
    ...(o["protect-content"] && { protect_content: true }),
    ...(o["no-link-preview"] && { link_preview: false }),
    ...(o.split && { split: true }),
    ...(str("category") !== undefined && { category: str("category") }),
    ...(str("priority") !== undefined && { priority: str("priority") }),
    ...(str("send-at") !== undefined && { send_at: str("send-at") }),
    ...(str("expires-at") !== undefined && { expires_at: str("expires-at") }),
    ...(Object.keys(translations).length && { translations }),
  }
}

const FLAG_OF: Record<string, string> = {
  buttons: "--button",
  link_preview: "--no-link-preview",
  protect_content: "--protect-content",
  send_at: "--send-at",
  expires_at: "--expires-at",
  translations: "--ru/--es",
}

/**
 * Sends a notification as an operator (no sender: created_by is null). The input is checked with
 * the same schema the API uses, and the same service, so the CLI accepts exactly what POST would.
 */
export async function notifyFromCli(
  db: () => Promise<Db>,
  input: { username: string; text: string } & Record<string, unknown>,
  usageError: (message: string) => Error,
) {
  const problem = Value.Errors(NotificationRequest, input).First()
  if (problem) {
    const field = problem.path.replace(/^\//, "").split("/")[0] as string
    throw usageError(
      field === "text"
        ? "--text must be 1–4096 long (32768 with --split), not only whitespace, without NUL"
        : `${FLAG_OF[field] ?? `--${field}`} is invalid: ${problem.message}`,
    )
  }
  const { username, text, ...options } = input
  const { notification } = await createNotification(
    await db(),
    { username, text, options },
    null,
    new Date(),
  )
  const chats = notification.deliveries.length
  return {
    json: notification,
    text:
      notification.status === "undeliverable"
        ? `notification ${notification.id}: undeliverable — ${username} has no active, unblocked Telegram chat`
        : `notification ${notification.id} ${notification.status} for ${chats} chat${chats === 1 ? "" : "s"}; follow it with GET /api/telegram/notifications/${notification.id} (with an admin's JWT or telegram:notify key: it has no sender)`,
  }
}
