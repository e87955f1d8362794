import { type CommandDeps, type CommandHandler, replyForLinkedChat } from "./context"

export const unlinkCommand =
  ({ api, languages }: CommandDeps): CommandHandler =>
  async (ctx, t) =>
    replyForLinkedChat(ctx, t, await api.unlink(ctx.chatId), () => {
      // The chat's language is its Telegram client's again, not the former user's choice.
      languages.forget(ctx.chatId)
      return { reply: t.unlinked(), outcome: "unlinked" }
    })
