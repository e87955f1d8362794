// Last resort, registered after every command: unknown commands and plain text get a pointer to
// /help. In groups the bot stays quiet about ordinary chatter and commands meant for other bots.
import type { Bot, ContextType } from "gramio"
import type { Texts } from "../i18n"
import type { Outcome } from "./context"

export const fallbackHandler =
  (botUsername: () => string | undefined) =>
  async (ctx: ContextType<Bot, "message">, texts: () => Promise<Texts>): Promise<Outcome> => {
    const text = ctx.text ?? ""
    const command = ctx.entities?.find((e) => e.type === "bot_command" && e.offset === 0)
    const isPrivate = ctx.chatType === "private"
    if (command) {
      const mention = text.slice(1, command.length).split("@")[1]
      const me = botUsername()
      if (mention && me && mention.toLowerCase() !== me.toLowerCase()) return "other_bot"
      await ctx.send((await texts()).unknownCommand())
      return "unknown_command"
    }
    if (!isPrivate) return "ignored"
    await ctx.send((await texts()).plainText())
    return "plain_text"
  }
