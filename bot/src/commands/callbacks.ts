// Taps on the bot's inline buttons (/settings, /language). Each tap is answered exactly once
// (answerCallbackQuery: the client's spinner stops), whatever happens. A button acts only for the
// chat's own user: the tap must come from the user whose private chat the message is in (links
// are made only in private chats, so that is the linked user). Data that is not one of ours, or
// from an older version, changes nothing ("no longer valid").
import type { Logger } from "@nps/log"
import { type Bot, type ContextType, TelegramError } from "gramio"
import type { NpsApi, Preferences, PreferencesPatch } from "../api-client"
import { type Reply, type Texts, textsFor } from "../i18n"
import type { ChatLanguages } from "../i18n/chat-languages"
import type { Outcome, SendOptions } from "./context"
import {
  CATEGORY,
  categorySwitch,
  languagePick,
  patchFor,
  settingsAction,
  settingsScreen,
} from "./settings-screen"

export type CallbackContext = ContextType<Bot, "callback_query">

export interface CallbackDeps {
  api: NpsApi
  logger: Logger
  languages: ChatLanguages
  now?: () => number
}

/** What a tap leads to: the toast, and the message's new content (none: left as it is). */
interface TapResult {
  outcome: Outcome
  toast: string
  edit?: { text: Reply; options?: SendOptions }
}

const failed = (t: Texts, kind: string): TapResult => ({
  outcome: kind === "not_linked" ? "not_linked" : `api_${kind}`,
  toast: String(kind === "not_linked" ? t.notLinked() : t.unavailable()),
})

export function callbackHandler({ api, logger, languages, now = Date.now }: CallbackDeps) {
  const saveAndShow = async (
    chatId: number,
    patch: PreferencesPatch,
    t: Texts,
  ): Promise<TapResult> => {
    const result = await api.updatePreferences(chatId, patch)
    if (result.kind !== "ok") return failed(t, result.kind)
    const { text, reply_markup } = settingsScreen(result.preferences, t, now())
    return { outcome: "settings_saved", toast: t.saved, edit: { text, options: { reply_markup } } }
  }

  const switchCategory = async (chatId: number, name: string, on: boolean, t: Texts) => {
    const current = await api.preferences(chatId)
    if (current.kind !== "ok") return failed(t, current.kind)
    // Only a category the user has: a forged name must not invent one.
    if (!CATEGORY.test(name) || !(name in current.preferences.categories))
      return { outcome: "callback_stale", toast: t.staleButton }
    const categories: Preferences["categories"] = { ...current.preferences.categories, [name]: on }
    return saveAndShow(chatId, { categories }, t)
  }

  const pickLanguage = async (
    chatId: number,
    code: string | undefined,
    lang: Preferences["language"],
  ): Promise<TapResult> => {
    const result = await api.updatePreferences(chatId, { language: lang })
    const t = textsFor(lang ?? "en")
    if (result.kind !== "ok") return failed(t, result.kind)
    languages.remember(chatId, code, result.preferences.language)
    return { outcome: "language_set", toast: t.saved, edit: { text: t.languageSet() } }
  }

  const decide = async (ctx: CallbackContext, chatId: number, t: Texts): Promise<TapResult> => {
    const data = ctx.data ?? ""
    if (languagePick.filter(data)) {
      const parsed = languagePick.safeUnpack(data)
      if (parsed.success) return pickLanguage(chatId, ctx.from.languageCode, parsed.data.lang)
    } else if (settingsAction.filter(data)) {
      const parsed = settingsAction.safeUnpack(data)
      if (parsed.success) return saveAndShow(chatId, patchFor(parsed.data.do, now()), t)
    } else if (categorySwitch.filter(data)) {
      const parsed = categorySwitch.safeUnpack(data)
      if (parsed.success)
        return switchCategory(chatId, parsed.data.name, parsed.data.to === "on", t)
    }
    return { outcome: "callback_stale", toast: t.staleButton }
  }

  return async (ctx: CallbackContext): Promise<Outcome> => {
    const chatId = ctx.message?.chat.id
    let t = textsFor(languages.peek(chatId ?? ctx.from.id, ctx.from.languageCode))
    let result: TapResult = { outcome: "callback_error", toast: String(t.somethingWrong()) }
    try {
      // Telegram sets `from` and the message's chat: neither can be forged by the tapper.
      if (chatId === undefined || ctx.from.id !== chatId) {
        result = { outcome: "callback_not_yours", toast: t.notYourButton }
        return result.outcome
      }
      t = textsFor(await languages.resolve(chatId, ctx.from.languageCode))
      result = await decide(ctx, chatId, t)
      return result.outcome
    } finally {
      await ctx.answerCallbackQuery({ text: result.toast })
      if (result.edit && ctx.message) await edit(ctx, result.edit, logger)
    }
  }
}

/** Edits the tapped message in place; "not modified" (a repeated tap) is fine. */
async function edit(ctx: CallbackContext, change: NonNullable<TapResult["edit"]>, logger: Logger) {
  try {
    await ctx.editText(change.text as string, change.options as object)
  } catch (error) {
    if (error instanceof TelegramError && /message is not modified/i.test(error.message)) return
    logger.warn("could not edit the settings message", {
      chat_id: ctx.message?.chat.id,
      reason: error instanceof Error ? error.message : String(error),
    })
  }
}
