import { texts } from "../texts"
import { type CommandDeps, type CommandHandler, replyForLinkedChat } from "./context"

export const unlinkCommand =
  ({ api }: CommandDeps): CommandHandler =>
  async (ctx) =>
    replyForLinkedChat(ctx, await api.unlink(ctx.chatId), () => ({
      reply: texts.unlinked(),
      outcome: "unlinked",
    }))
