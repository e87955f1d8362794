import { texts } from "../texts"
import { type CommandDeps, type CommandHandler, failureReply } from "./context"

export const profileCommand =
  ({ api }: CommandDeps): CommandHandler =>
  async (ctx) => {
    const result = await api.profiles(ctx.chatId)
    if (result.kind === "ok") {
      await ctx.send(
        result.profiles.length > 0 ? texts.profiles(result.profiles) : texts.noProfiles(),
      )
      return result.profiles.length > 0 ? "profiles" : "no_profiles"
    }
    if (result.kind === "not_linked") {
      await ctx.send(texts.notLinked())
      return "not_linked"
    }
    const { reply, outcome } = failureReply(result.kind)
    await ctx.send(reply)
    return outcome
  }
