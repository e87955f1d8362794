// /link <api_key>: the one command that carries a secret. The message is deleted before anything
// else can fail; the key is checked locally before the API sees it; no reply or log line ever
// contains it. Each update gets exactly one reply (warnings are joined into it).
import type { Logger } from "@nps/log"
import { TelegramError } from "gramio"
import type { Reply } from "../i18n"
import { withWarning } from "../i18n/views"
import {
  type CommandContext,
  type CommandDeps,
  type CommandHandler,
  failureReply,
  textsAfterLink,
} from "./context"

/** URL-safe base64 alphabet, 20–100 characters (seed Phase 6); `nps_` keys pass. */
export const KEY_FORMAT = /^[A-Za-z0-9_-]{20,100}$/

/** True when the message is gone: deleted now, or already gone ("message to delete not found"). */
async function deleteKeyMessage(ctx: CommandContext, logger: Logger): Promise<boolean> {
  try {
    await ctx.delete()
    return true
  } catch (error) {
    if (error instanceof TelegramError && /message to delete not found/i.test(error.message))
      return true
    logger.warn("could not delete the /link message", {
      chat_id: ctx.chatId,
      message_id: ctx.id,
      // TelegramError's message is Telegram's description; never log the error's params.
      status: error instanceof TelegramError ? error.code : undefined,
      reason: error instanceof Error ? error.message : String(error),
    })
    return false
  }
}

export const linkCommand =
  (deps: CommandDeps): CommandHandler =>
  async (ctx, t) => {
    const { api, logger } = deps
    const deleted = await deleteKeyMessage(ctx, logger)
    const key = ctx.args?.split(/\s+/)[0] || undefined
    const respond = async (reply: Reply, outcome: string) => {
      const warning = key && !deleted ? t.notDeleted() : undefined
      await ctx.send(withWarning(warning, reply))
      return deleted ? outcome : `${outcome}+not_deleted`
    }

    if (ctx.chatType !== "private") {
      const exposed = key && deleted ? t.keyExposedInGroup() : undefined
      return respond(withWarning(exposed, t.privateOnly()), "refused_not_private")
    }
    if (!key) return respond(t.linkUsage(), "usage")
    if (!KEY_FORMAT.test(key)) return respond(t.linkInvalid(), "malformed_key")

    const result = await api.link({
      chatId: ctx.chatId,
      telegramUsername: ctx.from?.username ?? null,
      apiKey: key,
    })
    switch (result.kind) {
      case "ok":
        return respond((await textsAfterLink(deps, ctx)).linked(result.account.username), "linked")
      case "invalid_key":
        return respond(t.linkInvalid(), "invalid_key")
      case "inactive_user":
        return respond(t.linkInactive(), "inactive_user")
      case "throttled":
        return respond(t.linkThrottled(), "throttled")
      default: {
        const { reply, outcome } = failureReply(result.kind, t)
        return respond(reply, outcome)
      }
    }
  }
