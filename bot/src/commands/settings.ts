// /settings: the user's notification preferences as one message with buttons (taps: callbacks.ts).
import { type CommandDeps, type CommandHandler, replyForLinkedChat } from "./context"
import { settingsScreen } from "./settings-screen"

export const settingsCommand =
  ({ api, now = Date.now }: CommandDeps): CommandHandler =>
  async (ctx, t) =>
    replyForLinkedChat(ctx, t, await api.preferences(ctx.chatId), ({ preferences }) => {
      const { text, reply_markup } = settingsScreen(preferences, t, now())
      return { reply: text, outcome: "settings", options: { reply_markup } }
    })
