// What the bot sends: the Bot API sendMessage parameters of each part, fixed when a notification
// is accepted and stored per language ("en" for `text`, then each translation).
import { ApiError } from "../../errors"
import { type Atom, HtmlProblem, parseHtml, textAtoms } from "./html"
import { PART_LIMIT, splitAtoms, visibleUnits } from "./split"

export const MAX_SPLIT_LENGTH = 32_768

export interface BotMessage {
  text: string
  parse_mode?: "HTML"
  reply_markup?: { inline_keyboard: { text: string; url: string }[][] }
  disable_notification?: true
  protect_content?: true
  link_preview_options?: { is_disabled: true }
}

export interface MessageOptions {
  format?: "text" | "html" | undefined
  buttons?: { text: string; url: string }[][] | undefined
  silent?: boolean | undefined
  protect_content?: boolean | undefined
  link_preview?: boolean | undefined
  split?: boolean | undefined
}

const invalid = (field: string, why: string) =>
  new ApiError(422, "validation_error", `Invalid ${field}: ${why}`)

/** The atoms of one text, checked as Telegram would check it. */
function atomsOf(field: string, text: string, options: MessageOptions): Atom[] {
  if (!text.isWellFormed()) throw invalid(field, "it holds a lone surrogate (broken UTF-16)")
  let atoms: Atom[]
  try {
    atoms = options.format === "html" ? parseHtml(text) : textAtoms(text)
  } catch (error) {
    if (!(error instanceof HtmlProblem)) throw error
    throw new ApiError(422, "invalid_html", `${field}: ${error.message}`)
  }
  const units = visibleUnits(atoms)
  const limit = options.split ? MAX_SPLIT_LENGTH : PART_LIMIT
  if (units > limit)
    throw invalid(
      field,
      `${units} long as Telegram counts it (UTF-16 units of the visible text); at most ${limit}${options.split ? "" : `, or set split: true for up to ${MAX_SPLIT_LENGTH}`}`,
    )
  const shown = atoms.map((a) => (a.kind === "char" ? a.ch : "")).join("")
  if (!/\S/.test(shown)) throw invalid(field, "nothing visible but whitespace")
  return atoms
}

function checkButtons(buttons: MessageOptions["buttons"]) {
  for (const [r, row] of (buttons ?? []).entries())
    for (const [c, button] of row.entries()) {
      const where = `buttons[${r}][${c}]`
      if (!/\S/.test(button.text)) throw invalid(`${where}.text`, "it is only whitespace")
      let ok = false
      try {
        const url = new URL(button.url)
        ok =
          !/\s/.test(button.url) &&
          (url.protocol === "https:" ? url.hostname !== "" : url.protocol === "tg:")
      } catch {}
      if (!ok) throw invalid(`${where}.url`, "an https:// or tg:// URL is needed")
    }
}

/** The parts of one text as sendMessage parameters; buttons go on the last. */
export function messagesOf(field: string, text: string, options: MessageOptions): BotMessage[] {
  const atoms = atomsOf(field, text, options)
  const parts = options.split ? splitAtoms(atoms) : [text]
  const common: Omit<BotMessage, "text"> = {
    ...(options.format === "html" && { parse_mode: "HTML" as const }),
    ...(options.silent && { disable_notification: true as const }),
    ...(options.protect_content && { protect_content: true as const }),
    ...(options.link_preview === false && { link_preview_options: { is_disabled: true as const } }),
  }
  return parts.map((part, i) => ({
    text: part,
    ...common,
    ...(options.buttons?.length &&
      i === parts.length - 1 && { reply_markup: { inline_keyboard: options.buttons } }),
  }))
}

/**
 * Every version's parts, or null for the plain case (one plain-text message, no options, no
 * translation): then the lease sends `text` as it always did. Each text is checked first.
 */
export function composeMessages(
  text: string,
  translations: Partial<Record<"ru" | "es", string>> | undefined,
  options: MessageOptions,
): Record<string, BotMessage[]> | null {
  checkButtons(options.buttons)
  const all: Record<string, BotMessage[]> = { en: messagesOf("text", text, options) }
  for (const language of ["ru", "es"] as const) {
    const translated = translations?.[language]
    if (translated !== undefined)
      all[language] = messagesOf(`translations.${language}`, translated, options)
  }
  const [only] = Object.values(all)
  const plain =
    Object.keys(all).length === 1 && only?.length === 1 && Object.keys(only[0] ?? {}).length === 1
  return plain ? null : all
}
