// The outbound path of every Bot API call: messages wait for their turn in the one outbound
// budget (pacer.ts), replies first and deliveries after; a 429 pauses every send for
// retry_after. Replies and other calls that fail for a passing reason (a short flood wait, a 5xx,
// no answer) are tried again a few times: a reply that timed out may have been delivered before
// the answer was lost, and a rare duplicate is the lesser evil. Deliveries are not retried here:
// the delivery loop reports them for later.
//
// A delivery says so explicitly — send(params, { priority, signal }) — and the hook reads that
// from the call's async context, so whatever the call leads to (the resend to a supergroup after
// a migration) is still the same delivery.
import { AsyncLocalStorage } from "node:async_hooks"
import type { SendMessageParams, TelegramMessage } from "@gramio/types"
import type { Logger } from "@nps/log"
import { type Bot, TelegramError } from "gramio"
import { backoffDelay } from "../backoff"
import type { BotMetrics } from "../metrics"
import { type BroadcastMode, isPaidBroadcastRefusal } from "./broadcast"
import type { Pacer, Priority } from "./pacer"

export interface SendOptions {
  priority: Priority
  /** Withdraws the message while it waits for its turn. */
  signal?: AbortSignal
}

/**
 * Calls that put or change a message in a chat, and answers to button taps: what Telegram's
 * flood limits count (edits count against a group's 20 a minute).
 */
const PACED = /^(send(?!ChatAction)|copyMessage|forwardMessage|editMessage|answerCallbackQuery)/
/** Calls with a patient retry loop of their own (getMe at start, setWebhook, bot-profile.ts). */
const OWN_RETRY = new Set([
  "getMe",
  "setWebhook",
  "setMyCommands",
  "setMyDescription",
  "setMyShortDescription",
])

/**
 * Which chat's budget a paced call draws from. An answer to a tap names no chat: it draws from
 * the overall budget only (a key of its own), so the edit that follows it is not held back a
 * second by the private chat's 1-a-second window.
 */
function pacingKey(method: string, params: Record<string, unknown> | undefined) {
  const chatId = params?.chat_id
  if (typeof chatId === "number" || typeof chatId === "string") return chatId
  if (method === "answerCallbackQuery") return `callback:${String(params?.callback_query_id)}`
  return undefined
}

export interface OutboundOptions {
  bot: Bot
  pacer: Pacer
  logger: Logger
  metrics?: BotMetrics
  broadcast?: BroadcastMode
  retry: { maxAttempts: number; maxDelayMs: number }
  sleep: (ms: number, signal: AbortSignal) => Promise<void>
  /** Aborts the retry sleeps at stop. */
  signal: AbortSignal
  /** An error's text with the token blanked out. */
  safeMessage: (error: unknown) => string
  /** A reply to a chat a split delivery is being sent to waits until its last part. */
  chatFree?: (chatId: number) => Promise<void> | undefined
}

export interface Outbound {
  /** Sends one message with this priority (a delivery: `priority: "delivery"`). */
  send(params: SendMessageParams, options: SendOptions): Promise<TelegramMessage>
  /** The options of the send this call belongs to, if it is one of send()'s. */
  current(): SendOptions | undefined
  /** The `onApiCall` hook that paces and retries: register it innermost. */
  hook: Parameters<Bot["onApiCall"]>[0]
}

export function createOutbound(options: OutboundOptions): Outbound {
  const { bot, pacer, logger, metrics, broadcast, retry, sleep, signal, safeMessage } = options
  const context = new AsyncLocalStorage<SendOptions>()

  const hook: Outbound["hook"] = async (call, next) => {
    const params = call.params as Record<string, unknown> | undefined
    const chatId = PACED.test(call.method) ? pacingKey(call.method, params) : undefined
    const paced = chatId !== undefined
    const sent = paced ? context.getStore() : undefined
    const delivery = sent?.priority === "delivery"
    // A delivery sending its parts has the chat to itself: a reply there waits for the last one.
    if (paced && !delivery && typeof chatId === "number") await options.chatFree?.(chatId)
    for (let attempt = 1; ; attempt++) {
      const permit = paced
        ? await pacer.acquire(chatId, delivery ? "delivery" : "reply", sent?.signal)
        : undefined
      // Notifications only, never replies: GramIO serialises these same params when next() runs.
      const flagged = Boolean(delivery && broadcast?.paid)
      if (flagged) (params as Record<string, unknown>).allow_paid_broadcast = true
      try {
        return await next()
      } catch (error) {
        const telegram = error instanceof TelegramError ? error : undefined
        metrics?.telegramError(call.method, telegram?.code ?? "network")
        if (flagged && broadcast && telegram && isPaidBroadcastRefusal(telegram)) {
          // Refused for the flag, not for the message: the same message again, free.
          metrics?.paidBroadcastRefused()
          broadcast.refused(telegram)
          delete (params as Record<string, unknown>).allow_paid_broadcast
          continue
        }
        const retryAfter = telegram?.payload?.retry_after
        if (retryAfter !== undefined) pacer.pause(retryAfter * 1000)
        const passing = retryAfter !== undefined || !telegram || telegram.code >= 500
        const delayMs =
          retryAfter !== undefined
            ? retryAfter * 1000
            : backoffDelay(attempt, { initialMs: 1_000, maxMs: Number.POSITIVE_INFINITY })
        if (
          delivery ||
          OWN_RETRY.has(call.method) ||
          !passing ||
          attempt >= retry.maxAttempts ||
          delayMs > retry.maxDelayMs
        )
          throw error
        logger.warn(
          retryAfter !== undefined
            ? "telegram flood limit: every send waits"
            : "telegram call failed, retrying",
          {
            method: call.method,
            attempt,
            ...(retryAfter !== undefined
              ? { retry_after: retryAfter }
              : { code: telegram?.code, error: safeMessage(error) }),
          },
        )
        // A paced call waits out a flood limit in the pacer; everything else sleeps here.
        if (!(paced && retryAfter !== undefined)) await sleep(delayMs, signal)
      } finally {
        permit?.done()
      }
    }
  }

  return {
    send: (params, sendOptions) => context.run(sendOptions, () => bot.api.sendMessage(params)),
    current: () => context.getStore(),
    hook,
  }
}
