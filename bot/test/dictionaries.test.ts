// Every key in every language, filled in: a missing or empty text fails here (and a missing key
// fails tsc first). Each text is rendered with sample values, so a placeholder left unfilled or a
// value printed as "undefined" shows up too.
import { describe, expect, test } from "bun:test"
import { COMMAND_NAMES } from "../src/commands/names"
import { DICTIONARIES, LANGUAGES, type Texts } from "../src/i18n"
import { chooseLanguage } from "../src/i18n/language"

const SAMPLES: { [K in keyof Texts]?: unknown[] } = {
  linked: ["ada"],
  status: [{ username: "ada", role: "user", oracle_profile_count: 5, reading_count: 21 }],
  profiles: [[{ name: "Morning", birthday: "1990-05-17" }]],
  slowDown: [20],
  settings: [
    {
      mutedUntil: new Date("2026-12-08T06:30:00Z"),
      timeZone: "Europe/Madrid",
      quietHours: { start: "22:00", end: "08:00" },
      categories: [["general", true]],
    },
  ],
  timezoneSet: ["Europe/Madrid"],
  timezoneUnknown: ["Mars/Base"],
}

/** Every string a dictionary holds, rendered, by its path ("commands.start", "settingsButtons.mute1h"). */
function render(texts: Texts): Map<string, string> {
  const out = new Map<string, string>()
  const walk = (value: unknown, path: string, args: unknown[] = ["general"]) => {
    if (typeof value === "function") return walk(value(...args), path)
    if (typeof value === "string") return out.set(path, value)
    if (value && typeof value === "object" && "toString" in value && !isPlain(value))
      return out.set(path, String(value))
    for (const [key, inner] of Object.entries(value as object))
      walk(inner, path ? `${path}.${key}` : key, SAMPLES[key as keyof Texts] ?? ["general"])
  }
  walk(texts, "")
  return out
}
const isPlain = (value: object) => Object.getPrototypeOf(value) === Object.prototype

describe("dictionaries", () => {
  const english = render(DICTIONARIES.en)

  test("the English reference renders every text (commands, buttons, replies)", () => {
    expect(english.size).toBeGreaterThan(45)
    expect(english.get("settings")).toContain("Notifications")
    expect(english.get("settingsButtons.unmute")).toBe("Unmute")
  })

  for (const lang of LANGUAGES)
    test(`${lang}: every key of English is there, filled in, with no artefacts`, () => {
      const texts = render(DICTIONARIES[lang])
      expect([...texts.keys()].sort()).toEqual([...english.keys()].sort())
      for (const [path, text] of texts) {
        expect({ path, empty: text.trim() === "" }).toEqual({ path, empty: false })
        for (const artefact of ["undefined", "null", "NaN", "[object", "${", "{{"])
          expect({ path, artefact: text.includes(artefact) }).toEqual({ path, artefact: false })
      }
      for (const name of COMMAND_NAMES) expect(texts.get(`commands.${name}`)).toBeTruthy()
      expect((texts.get("description") ?? "").length).toBeLessThanOrEqual(512)
      expect((texts.get("shortDescription") ?? "").length).toBeLessThanOrEqual(120)
      for (const name of COMMAND_NAMES)
        expect((texts.get(`commands.${name}`) ?? "").length).toBeLessThanOrEqual(256)
      // Texts that can be a tap's answer: Telegram takes at most 200 characters there.
      for (const key of [
        "notLinked",
        "unavailable",
        "somethingWrong",
        "slowDown",
        "saved",
        "staleButton",
        "notYourButton",
      ])
        expect({ key, length: (texts.get(key) ?? "").length <= 200 }).toEqual({ key, length: true })
    })

  test("translations are translations: no Russian or Spanish text is the English one", () => {
    for (const lang of ["ru", "es"] as const) {
      const texts = render(DICTIONARIES[lang])
      const same = [...texts].filter(
        ([path, text]) =>
          text === english.get(path) && !path.startsWith("settingsButtons.category"),
      )
      expect(same.map(([path]) => path)).toEqual([])
    }
  })

  test("the chat's language: the preference, else the client's first two letters, else English", () => {
    expect(chooseLanguage("es", "ru")).toBe("es")
    expect(chooseLanguage(null, "ru-RU")).toBe("ru")
    expect(chooseLanguage(null, "ES")).toBe("es")
    expect(chooseLanguage(null, "de")).toBe("en")
    expect(chooseLanguage(null, undefined)).toBe("en")
  })
})
