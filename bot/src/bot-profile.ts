// What Telegram shows about the bot before anyone writes to it, in each language it speaks: the
// command menu (setMyCommands), the description of an empty chat and the short description of its
// profile. The default (no language_code) is English. Registered at start; a failure is retried
// with backoff in the background until it works, and never stops the bot.
import type { Logger } from "@nps/log"
import type { Bot } from "gramio"
import { type Backoff, backoffDelay } from "./backoff"
import { COMMAND_NAMES } from "./commands/names"
import { DEFAULT_LANGUAGE, DICTIONARIES, LANGUAGES, type Lang } from "./i18n"

/** The language_code each language is registered under: the default carries none. */
const targets: { lang: Lang; language_code?: string }[] = [
  { lang: DEFAULT_LANGUAGE },
  ...LANGUAGES.filter((lang) => lang !== DEFAULT_LANGUAGE).map((lang) => ({
    lang,
    language_code: lang,
  })),
]

function commandMenu(lang: Lang) {
  const t = DICTIONARIES[lang]
  return COMMAND_NAMES.map((command) => ({ command, description: t.commands[command] }))
}

/** One pass over every language; resolves false when any call failed. */
async function registerProfile(
  bot: Bot,
  logger: Logger,
  safeMessage: (error: unknown) => string,
): Promise<boolean> {
  let ok = true
  for (const { lang, language_code } of targets) {
    const t = DICTIONARIES[lang]
    const scope = language_code ? { language_code } : {}
    try {
      await bot.api.setMyCommands({ commands: commandMenu(lang), ...scope })
      await bot.api.setMyDescription({ description: t.description, ...scope })
      await bot.api.setMyShortDescription({ short_description: t.shortDescription, ...scope })
    } catch (error) {
      ok = false
      logger.warn("could not register the command menu and description", {
        language: lang,
        error: safeMessage(error),
      })
    }
  }
  return ok
}

/**
 * Registers now, then again with backoff until it works or `signal` aborts. `firstPass` resolves
 * after the first attempt (start() waits for it: the menu is there before the first update).
 */
export function keepRegistering(options: {
  bot: Bot
  logger: Logger
  safeMessage: (error: unknown) => string
  signal: AbortSignal
  sleep: (ms: number, signal: AbortSignal) => Promise<void>
  backoff: Backoff
}): { firstPass: Promise<void>; done: Promise<void> } {
  const { bot, logger, safeMessage, signal, sleep, backoff } = options
  let firstDone!: () => void
  const firstPass = new Promise<void>((resolve) => {
    firstDone = resolve
  })
  const done = (async () => {
    for (let attempt = 1; !signal.aborted; attempt++) {
      const ok = await registerProfile(bot, logger, safeMessage)
      firstDone()
      if (ok) return
      const delay = backoffDelay(attempt, backoff)
      await sleep(delay, signal)
    }
  })().finally(firstDone)
  return { firstPass, done }
}
