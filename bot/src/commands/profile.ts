import { type CommandDeps, type CommandHandler, replyForLinkedChat } from "./context"

export const profileCommand =
  ({ api }: CommandDeps): CommandHandler =>
  async (ctx, t) =>
    replyForLinkedChat(ctx, t, await api.profiles(ctx.chatId), ({ profiles }) =>
      profiles.length > 0
        ? { reply: t.profiles(profiles), outcome: "profiles" }
        : { reply: t.noProfiles(), outcome: "no_profiles" },
    )
