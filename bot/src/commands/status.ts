import { texts } from "../texts"
import { type CommandDeps, type CommandHandler, replyForLinkedChat } from "./context"

export const statusCommand =
  ({ api }: CommandDeps): CommandHandler =>
  async (ctx) =>
    replyForLinkedChat(ctx, await api.status(ctx.chatId), ({ status }) => ({
      reply: texts.status(status),
      outcome: "linked",
    }))
