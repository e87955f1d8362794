// Which language each chat speaks, remembered for a short while so that a chat's updates do not
// each cost an API call. The first update of a chat (and the first after the entry expires, or
// when the Telegram client's language_code changes) reports that language_code to the API, which
// keeps it for deliveries and answers with the user's own preference. /language refreshes it.
// Bounded (oldest entries go first) and short-lived, so replicas that each keep their own agree
// within the TTL, and a restart starts from what the API holds.
import type { NpsApi } from "../api-client"
import { chooseLanguage, type Lang } from "./language"

export interface ChatLanguages {
  /** The chat's language for this update, telling the API the language_code when not known. */
  resolve(chatId: number, languageCode: string | undefined): Promise<Lang>
  /** The chat's language from what is known here, with no API call (error replies). */
  peek(chatId: number, languageCode: string | undefined): Lang
  /** The user's preference as the API just answered it (after /language, /settings, a link). */
  remember(chatId: number, languageCode: string | undefined, preference: Lang | null): void
  /** Forget the chat (it was linked or unlinked: its preference is someone else's now). */
  forget(chatId: number): void
}

interface Entry {
  code: string | undefined
  preference: Lang | null
  expiresAt: number
}

export interface ChatLanguagesOptions {
  api: Pick<NpsApi, "reportLanguageCode" | "preferences">
  /** How long an answer is trusted. */
  ttlMs?: number
  /** After no answer, how long before the API is asked again about that chat. */
  retryMs?: number
  /** How long an update waits for the answer before going on in what is known. */
  waitMs?: number
  maxChats?: number
  now?: () => number
}

export function createChatLanguages(options: ChatLanguagesOptions): ChatLanguages {
  const {
    api,
    ttlMs = 60_000,
    retryMs = 5_000,
    waitMs = 1_500,
    maxChats = 10_000,
    now = Date.now,
  } = options
  const entries = new Map<number, Entry>()

  const remember = (
    chatId: number,
    code: string | undefined,
    preference: Lang | null,
    forMs = ttlMs,
  ) => {
    entries.delete(chatId) // re-inserted last: the Map's order is the eviction order
    entries.set(chatId, { code, preference, expiresAt: now() + forMs })
    if (entries.size > maxChats) {
      const oldest = entries.keys().next().value
      if (oldest !== undefined) entries.delete(oldest)
    }
  }

  const fresh = (chatId: number, code: string | undefined) => {
    const entry = entries.get(chatId)
    return entry && entry.expiresAt > now() && entry.code === code ? entry : undefined
  }

  /** Asks the API; on an answer, remembers it. Undefined: no answer (the API is away). */
  const ask = async (chatId: number, code: string | undefined) => {
    const result = code
      ? await api.reportLanguageCode(chatId, code)
      : await api
          .preferences(chatId)
          .then((r) =>
            r.kind === "ok" ? { kind: "ok" as const, language: r.preferences.language } : r,
          )
    if (result.kind !== "ok" && result.kind !== "not_linked") {
      // Not asked again for a little while: each update would otherwise wait on it.
      const known = entries.get(chatId)
      remember(chatId, code, known?.preference ?? null, retryMs)
      return undefined
    }
    const preference = result.kind === "ok" ? result.language : null
    remember(chatId, code, preference)
    return preference
  }

  return {
    async resolve(chatId, code) {
      const known = fresh(chatId, code)
      if (known) return chooseLanguage(known.preference, code)
      // A slow API does not hold up the reply: past the budget the answer lands in the cache
      // for the next update, and this one goes in what is known.
      let timer: ReturnType<typeof setTimeout> | undefined
      const late = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), waitMs)
      })
      const preference = await Promise.race([ask(chatId, code), late])
      clearTimeout(timer)
      return chooseLanguage(preference ?? entries.get(chatId)?.preference, code)
    },
    peek: (chatId, code) => chooseLanguage(entries.get(chatId)?.preference, code),
    remember: (chatId, code, preference) => remember(chatId, code, preference),
    forget: (chatId) => {
      entries.delete(chatId)
    },
  }
}
