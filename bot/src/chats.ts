// Chats that follow the user. Telegram tells the bot when it can no longer reach a chat (the
// user blocked it, or it was removed from a group: a `my_chat_member` update, or a 403 on any
// call) and when it can again, and when a group became a supergroup under a new id (a service
// message, or a 400 carrying `migrate_to_chat_id`). Each is reported to the API, which keeps the
// link's state; none of them sends a message.
import type { TelegramChatMemberUpdated, TelegramUpdate } from "@gramio/types"
import type { Logger } from "@nps/log"
import { type Bot, TelegramError } from "gramio"
import type { ChatReportResult, NpsApi } from "./api-client"
import type { Outcome } from "./commands/context"

type MemberStatus = TelegramChatMemberUpdated["new_chat_member"]["status"]

/** The bot's own membership: these statuses mean it cannot write there; these that it can. */
const UNREACHABLE: ReadonlySet<MemberStatus> = new Set(["kicked", "left"])
const REACHABLE: ReadonlySet<MemberStatus> = new Set(["member", "administrator", "creator"])

/** The chat an update is about, for log lines. */
export const chatIdOf = (update: TelegramUpdate | undefined): number | undefined =>
  update?.message?.chat.id ??
  update?.my_chat_member?.chat.id ??
  update?.callback_query?.message?.chat.id

const outcomeOf = (done: Outcome, result: ChatReportResult): Outcome =>
  result.kind === "ok" ? done : result.kind === "not_linked" ? `${done}_not_linked` : result.kind

export interface ChatFollower {
  /**
   * Handles a membership change or a migration service message and returns its outcome; returns
   * undefined for any other update (which the commands then handle).
   */
  handle(update: TelegramUpdate | undefined): Promise<Outcome | undefined>
  /**
   * An `onApiCall` hook: a 403 marks the chat blocked; a migration moves the link and re-sends.
   * A delivery's 403 is left to its report (`failed: blocked` marks the chat too): one record.
   */
  onApiCall(bot: Bot, isDelivery?: () => boolean): Parameters<Bot["onApiCall"]>[0]
}

export function createChatFollower({ api, logger }: { api: NpsApi; logger: Logger }): ChatFollower {
  const migrate = async (from: number, to: number) =>
    outcomeOf("chat_migrated", await api.migrate(from, to))

  return {
    async handle(update) {
      const member = update?.my_chat_member
      if (member) {
        const status = member.new_chat_member.status
        const blocked = UNREACHABLE.has(status) ? true : REACHABLE.has(status) ? false : undefined
        if (blocked === undefined) return "membership_ignored"
        const result = await api.setBlocked(member.chat.id, blocked)
        return outcomeOf(blocked ? "chat_blocked" : "chat_unblocked", result)
      }
      // Telegram posts the move in both chats; either report suffices, and both are harmless.
      const message = update?.message
      if (message?.migrate_to_chat_id !== undefined)
        return migrate(message.chat.id, message.migrate_to_chat_id)
      if (message?.migrate_from_chat_id !== undefined)
        return migrate(message.migrate_from_chat_id, message.chat.id)
      return undefined
    },

    onApiCall: (bot, isDelivery) => async (call, next) => {
      try {
        return await next()
      } catch (error) {
        const chatId = (call.params as { chat_id?: unknown } | undefined)?.chat_id
        if (!(error instanceof TelegramError) || typeof chatId !== "number") throw error
        if (error.code === 403) {
          if (isDelivery?.()) throw error
          const result = await api.setBlocked(chatId, true)
          logger.info("chat unreachable", {
            chat_id: chatId,
            method: call.method,
            reason: error.message,
            outcome: outcomeOf("chat_blocked", result),
          })
          throw error
        }
        const to = error.payload?.migrate_to_chat_id
        if (error.code !== 400 || to === undefined) throw error
        const outcome = await migrate(chatId, to)
        logger.info("chat migrated", { chat_id: chatId, to_chat_id: to, outcome })
        // A message is just as welcome in the supergroup; other calls (deleting a message by
        // its id, say) mean nothing there.
        if (!call.method.startsWith("send")) throw error
        const resend = (bot.api as unknown as Record<string, (params: object) => Promise<unknown>>)[
          call.method
        ]
        if (!resend) throw error
        return resend({ ...(call.params as object), chat_id: to })
      }
    },
  }
}
