// /language: three buttons, each language in its own name (taps: callbacks.ts).
import type { CommandHandler } from "./context"
import { languageKeyboard } from "./settings-screen"

export const languageCommand = (): CommandHandler => async (ctx, t) => {
  await ctx.send(t.languagePrompt(), { reply_markup: languageKeyboard() })
  return "language_prompt"
}
