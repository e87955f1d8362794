// The languages the bot speaks, and how a chat's language is chosen: the user's own preference,
// else the Telegram client's language_code (its first two letters), else English.

export const LANGUAGES = ["en", "ru", "es"] as const
export type Lang = (typeof LANGUAGES)[number]

export const DEFAULT_LANGUAGE: Lang = "en"

const isLang = (value: unknown): value is Lang =>
  typeof value === "string" && (LANGUAGES as readonly string[]).includes(value)

/** "ru-RU" → ru; "pt-br", "de" or nothing → undefined (we do not speak it). */
function fromLanguageCode(code: string | undefined): Lang | undefined {
  const two = code?.slice(0, 2).toLowerCase()
  return isLang(two) ? two : undefined
}

export const chooseLanguage = (
  preference: Lang | null | undefined,
  languageCode: string | undefined,
): Lang => preference ?? fromLanguageCode(languageCode) ?? DEFAULT_LANGUAGE

/** Each language's name in itself: the /language buttons. */
export const LANGUAGE_NAMES: Record<Lang, string> = {
  en: "English",
  ru: "Русский",
  es: "Español",
}
