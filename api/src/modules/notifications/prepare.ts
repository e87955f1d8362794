// Everything about a notification that needs no database: the options checked, its messages
// composed, its timing resolved, and the request hash that tells a retry from another request.
import { ApiError } from "../../errors"
import { parseInstant } from "../../instant"
import { DEFAULT_CATEGORY } from "../preferences/model"
import { type BotMessage, composeMessages, type MessageOptions } from "./compose"

export const MAX_SCHEDULE_MS = 30 * 24 * 3_600_000

export interface RichOptions extends MessageOptions {
  category?: string | undefined
  priority?: "normal" | "high" | undefined
  send_at?: string | undefined
  expires_at?: string | undefined
  translations?: Partial<Record<"ru" | "es", string>> | undefined
}

export interface Prepared {
  messages: Record<string, BotMessage[]> | null
  category: string
  priority: "normal" | "high"
  /** Null when absent or already past (then it goes now). */
  sendAt: Date | null
  expiresAt: Date | null
  /** Canonical options for the request hash; empty when every option is its default. */
  canonical: string
}

const invalid = (message: string) => new ApiError(422, "validation_error", message)

/** The options as given, defaults dropped and keys sorted: equal meaning, equal string. */
function canonicalOf(options: RichOptions, expiresAt: Date | null): string {
  const meaningful: Record<string, unknown> = {
    format: options.format === "html" ? "html" : undefined,
    buttons: options.buttons?.length ? options.buttons : undefined,
    silent: options.silent || undefined,
    protect_content: options.protect_content || undefined,
    link_preview: options.link_preview === false ? false : undefined,
    split: options.split || undefined,
    category:
      options.category && options.category !== DEFAULT_CATEGORY ? options.category : undefined,
    priority: options.priority === "high" ? "high" : undefined,
    // As given (a past one included): a retry later must hash the same.
    send_at: options.send_at && parseInstant("send_at", options.send_at).toISOString(),
    expires_at: expiresAt?.toISOString(),
    translations:
      options.translations && Object.keys(options.translations).length
        ? { ru: options.translations.ru, es: options.translations.es }
        : undefined,
  }
  const kept = Object.entries(meaningful).filter(([, v]) => v !== undefined)
  return kept.length ? JSON.stringify(Object.fromEntries(kept)) : ""
}

export function prepareNotification(text: string, options: RichOptions, now: Date): Prepared {
  const messages = composeMessages(text, options.translations, options)
  let sendAt: Date | null = null
  if (options.send_at !== undefined) {
    const at = parseInstant("send_at", options.send_at)
    if (at.getTime() - now.getTime() > MAX_SCHEDULE_MS)
      throw invalid("Invalid send_at: at most 30 days ahead")
    if (at > now) sendAt = at
  }
  let expiresAt: Date | null = null
  if (options.expires_at !== undefined) {
    expiresAt = parseInstant("expires_at", options.expires_at)
    if (expiresAt <= (sendAt ?? now))
      throw invalid(`Invalid expires_at: it must be after ${sendAt ? "send_at" : "now"}`)
  }
  return {
    messages,
    category: options.category ?? DEFAULT_CATEGORY,
    priority: options.priority ?? "normal",
    sendAt,
    expiresAt,
    canonical: canonicalOf(options, expiresAt),
  }
}
