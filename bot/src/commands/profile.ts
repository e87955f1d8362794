import { texts } from "../texts"
import { type CommandDeps, type CommandHandler, replyForLinkedChat } from "./context"

export const profileCommand =
  ({ api }: CommandDeps): CommandHandler =>
  async (ctx) =>
    replyForLinkedChat(ctx, await api.profiles(ctx.chatId), ({ profiles }) =>
      profiles.length > 0
        ? { reply: texts.profiles(profiles), outcome: "profiles" }
        : { reply: texts.noProfiles(), outcome: "no_profiles" },
    )
