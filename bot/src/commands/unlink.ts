import type { Texts } from "../i18n"
import { type CommandDeps, type CommandHandler, replyForLinkedChat } from "./context"

export const unlinkCommand =
  ({ api }: CommandDeps): CommandHandler =>
  async (ctx, t) =>
    replyForLinkedChat(ctx, t, await api.unlink(ctx.chatId), () => ({
      reply: t.unlinked(),
      outcome: "unlinked",
    }))
