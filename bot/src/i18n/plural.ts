// Plural forms by the language's own rules (CLDR through Intl.PluralRules): Russian has three
// (1 профиль, 2 профиля, 5 профилей), English and Spanish two.
import type { Lang } from "./language"

/** The forms a language needs: `other` always; Russian also `one`, `few` and `many`. */
export type PluralForms = { one: string; other: string } & Partial<
  Record<Exclude<Intl.LDMLPluralRule, "one" | "other">, string>
>

const rules = new Map<Lang, Intl.PluralRules>()

/** `count` followed by its form: plural("ru", 5, { one: "профиль", few: "профиля", … }). */
export function plural(lang: Lang, count: number, forms: PluralForms): string {
  let rule = rules.get(lang)
  if (!rule) {
    rule = new Intl.PluralRules(lang)
    rules.set(lang, rule)
  }
  return `${count} ${forms[rule.select(count)] ?? forms.other}`
}

/** A time the user reads (a mute's end), in their language and time zone. */
export function formatDateTime(lang: Lang, instant: Date, timeZone: string): string {
  return new Intl.DateTimeFormat(lang, {
    dateStyle: "medium",
    timeStyle: "short",
    timeZone,
  }).format(instant)
}
