import { texts } from "../texts"
import { type CommandDeps, type CommandHandler, failureReply } from "./context"

export const statusCommand =
  ({ api }: CommandDeps): CommandHandler =>
  async (ctx) => {
    const result = await api.status(ctx.chatId)
    if (result.kind === "ok") {
      await ctx.send(texts.status(result.status))
      return "linked"
    }
    if (result.kind === "not_linked") {
      await ctx.send(texts.notLinked())
      return "not_linked"
    }
    const { reply, outcome } = failureReply(result.kind)
    await ctx.send(reply)
    return outcome
  }
