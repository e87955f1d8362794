// /start welcomes; /start <token> is what Telegram sends when a user opens a one-tap link
// (t.me/<bot>?start=<token>): the token is redeemed for this chat. The token is a secret until it
// is spent, so it is never logged or repeated.
import { type CommandDeps, type CommandHandler, failureReply, textsAfterLink } from "./context"

/** Telegram's alphabet and limit for `start` parameters. */
export const START_TOKEN = /^[A-Za-z0-9_-]{1,64}$/

export const startCommand =
  (deps: CommandDeps): CommandHandler =>
  async (ctx, t) => {
    const { api } = deps
    const token = ctx.args?.trim()
    if (!token) {
      await ctx.send(t.start())
      return "welcomed"
    }
    if (ctx.chatType !== "private") {
      await ctx.send(t.startPrivateOnly())
      return "refused_not_private"
    }
    if (!START_TOKEN.test(token)) {
      await ctx.send(t.linkExpired())
      return "malformed_token"
    }
    const result = await api.redeem({
      chatId: ctx.chatId,
      telegramUsername: ctx.from?.username ?? null,
      token,
    })
    const { reply, outcome } =
      result.kind === "ok"
        ? {
            reply: (await textsAfterLink(deps, ctx)).linked(result.account.username),
            outcome: "linked_by_token",
          }
        : result.kind === "invalid_token"
          ? { reply: t.linkExpired(), outcome: "invalid_token" }
          : result.kind === "inactive_user"
            ? { reply: t.linkInactive(), outcome: "inactive_user" }
            : failureReply(result.kind, t)
    await ctx.send(reply)
    return outcome
  }
