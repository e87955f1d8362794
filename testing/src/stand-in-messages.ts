// The Bot API stand-in's checks of a message's fields (sendMessage, editMessageText), with the
// descriptions Telegram answers: the text and its parse mode (HTML parsed as Telegram does), the
// inline keyboard, and the delivery options. No imports beyond types: see stand-in-html.ts.
import type { TelegramInlineKeyboardMarkup, TelegramMessageEntity } from "@gramio/types"
import { parseTelegramHtml } from "./stand-in-html"

export type CheckedMessage =
  | {
      ok: true
      /** The text as the chat shows it (HTML resolved). */
      text: string
      entities: TelegramMessageEntity[] | undefined
      replyMarkup: TelegramInlineKeyboardMarkup | undefined
    }
  | { ok: false; description: string }

const refuse = (description: string): CheckedMessage => ({ ok: false, description })

const validEntities = (text: string, entities: unknown): boolean =>
  entities === undefined ||
  (Array.isArray(entities) &&
    entities.every(
      (e: TelegramMessageEntity) =>
        Number.isInteger(e.offset) &&
        Number.isInteger(e.length) &&
        e.offset >= 0 &&
        e.length > 0 &&
        e.offset + e.length <= text.length,
    ))

const BUTTON_URL = /^(https?|tg):\/\//i

/** An inline keyboard as Telegram reads it; a description of what is wrong, or undefined. */
function keyboardProblem(markup: unknown): string | undefined {
  const rows = (markup as { inline_keyboard?: unknown } | null)?.inline_keyboard
  if (typeof markup !== "object" || markup === null || !Array.isArray(rows))
    return "Bad Request: can't parse reply keyboard markup JSON object"
  for (const row of rows) {
    if (!Array.isArray(row))
      return 'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
    for (const button of row as Record<string, unknown>[]) {
      if (typeof button !== "object" || button === null || typeof button.text !== "string")
        return 'Bad Request: can\'t parse inline keyboard button: Field "text" must be of type String'
      if (button.text === "") return "Bad Request: BUTTON_TEXT_INVALID"
      const { url, callback_data: data } = button
      if (url === undefined && data === undefined)
        return "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
      if (url !== undefined && (typeof url !== "string" || !BUTTON_URL.test(url)))
        return "Bad Request: BUTTON_URL_INVALID"
      if (
        data !== undefined &&
        (typeof data !== "string" ||
          data.length === 0 ||
          new TextEncoder().encode(data).length > 64)
      )
        return "Bad Request: BUTTON_DATA_INVALID"
    }
  }
  return undefined
}

/** The delivery options' types, as Telegram checks them. */
function optionsProblem(params: Record<string, unknown>): string | undefined {
  for (const field of ["disable_notification", "protect_content", "allow_paid_broadcast"])
    if (params[field] !== undefined && typeof params[field] !== "boolean")
      return `Bad Request: field "${field}" must be of type Boolean`
  const preview = params.link_preview_options
  if (preview === undefined) return undefined
  if (typeof preview !== "object" || preview === null)
    return "Bad Request: can't parse link preview options JSON object"
  const disabled = (preview as { is_disabled?: unknown }).is_disabled
  if (disabled !== undefined && typeof disabled !== "boolean")
    return 'Bad Request: field "is_disabled" must be of type Boolean'
  return undefined
}

/** Checks a message's fields as Telegram would before it sends or edits the message. */
export function checkMessage(params: Record<string, unknown>): CheckedMessage {
  const raw = params.text
  if (typeof raw !== "string" || raw.trim() === "")
    return refuse("Bad Request: message text is empty")
  let text = raw
  let entities = params.entities as TelegramMessageEntity[] | undefined
  const mode = params.parse_mode
  if (mode === "HTML") {
    const parsed = parseTelegramHtml(raw)
    if (!parsed.ok) return refuse(`Bad Request: can't parse entities: ${parsed.error}`)
    text = parsed.text
    entities = parsed.entities as TelegramMessageEntity[]
    if (text.trim() === "") return refuse("Bad Request: message text is empty")
  } else if (mode === "Markdown" || mode === "MarkdownV2") {
    // Telegram has these, but our bot must never send them (an unescaped `.` or `_` in a user's
    // name fails the whole message): refusing here makes a test catch any use.
    return refuse("Bad Request: can't parse entities: Markdown is not used by this bot")
  } else if (mode !== undefined && mode !== "") {
    return refuse("Bad Request: unsupported parse_mode")
  }
  if (text.length > 4096) return refuse("Bad Request: message is too long")
  if (!validEntities(text, entities))
    return refuse("Bad Request: can't parse entities: entity out of range")
  const markup = params.reply_markup
  const markupProblem = markup === undefined ? undefined : keyboardProblem(markup)
  if (markupProblem) return refuse(markupProblem)
  const problem = optionsProblem(params)
  if (problem) return refuse(problem)
  return {
    ok: true,
    text,
    entities: entities?.length ? entities : undefined,
    replyMarkup: markup as TelegramInlineKeyboardMarkup | undefined,
  }
}
