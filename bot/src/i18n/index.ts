// The bot's words in every language it speaks.
//
// Typed dictionaries rather than Fluent: every language is an object that `satisfies` the English
// one, so a missing or extra key fails tsc (Fluent would find it only at run time), and the texts
// stay @gramio/format entities (bold, code) sent without parse_mode, which no user's name or
// input can break. Plurals come from Intl.PluralRules (plural.ts), as Fluent's would.
import { en, type Texts } from "./en"
import { es } from "./es"
import type { Lang } from "./language"
import { ru } from "./ru"

export type { Texts } from "./en"
export * from "./language"
export type { Reply } from "./views"

export const DICTIONARIES: Record<Lang, Texts> = { en, ru, es }

export const textsFor = (lang: Lang): Texts => DICTIONARIES[lang]
