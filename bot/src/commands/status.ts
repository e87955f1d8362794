import { type CommandDeps, type CommandHandler, replyForLinkedChat } from "./context"

export const statusCommand =
  ({ api }: CommandDeps): CommandHandler =>
  async (ctx, t) =>
    replyForLinkedChat(ctx, t, await api.status(ctx.chatId), ({ status }) => ({
      reply: t.status(status),
      outcome: "linked",
    }))
