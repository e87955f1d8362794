// The parts of one bot, wired together: the GramIO bot with its outbound hooks and handlers, the
// per-chat dispatcher, the poller, the heartbeat and the delivery loop. createBot (bot.ts) starts
// and stops them; nothing here has a side effect until then.
import type { SendMessageParams, TelegramUpdate, TelegramUser } from "@gramio/types"
import type { Logger } from "@nps/log"
import { Bot } from "gramio"
import { abandonable } from "./abandonable"
import type { CreateBotOptions } from "./bot"
import { createChatFollower } from "./chats"
import { createHeartbeat, type Heartbeat } from "./heartbeat"
import { createChatLanguages } from "./i18n/chat-languages"
import { createDispatcher, type Dispatcher } from "./inbound/dispatcher"
import { registerHandlers } from "./inbound/handlers"
import { abortableSleep, createPoller, type Poller } from "./inbound/polling"
import { createRateLimiter } from "./inbound/rate-limit"
import { createDeliveryLoop, type DeliveryLoop } from "./outbound/delivery"
import { createPacer, type Pacer, TELEGRAM_CALL_TIMEOUT_MS } from "./outbound/pacer"
import { createOutbound, type Outbound } from "./outbound/send"

/** The update types the bot handles — asked of getUpdates, registered with setWebhook. */
// my_chat_member: Telegram tells the bot when a user blocks or unblocks it; callback_query: taps
// on the /settings and /language buttons.
export const ALLOWED_UPDATES: UpdateType[] = ["message", "my_chat_member", "callback_query"]

export type UpdateType = Exclude<keyof TelegramUpdate, "update_id">

export interface BotParts {
  bot: Bot
  dispatcher: Dispatcher
  poller: Poller
  heartbeat: Heartbeat
  pacer: Pacer
  deliveries: DeliveryLoop | undefined
  /** Aborted at stop: retry sleeps and start-up loops end. */
  lifecycle: AbortController
  /** Aborted at the drain deadline: NPS API calls still waiting answer "unavailable". */
  giveUp: AbortController
  /** An error's kind and message, with the token (which Bot API URLs contain) blanked out. */
  safeMessage: (error: unknown) => string
  sleep: (ms: number, signal: AbortSignal) => Promise<void>
}

/** GramIO's bot, with a deadline on every Bot API call. */
function telegramBot(token: string, root: string, timeoutMs: number, info?: TelegramUser) {
  return new Bot(token, {
    api: {
      baseURL: `${root}/bot`,
      // A deadline per call, so a hung Bot API call cannot pin a chat's lane. A getter because
      // GramIO spreads fetchOptions into every request: each call gets a fresh signal. (Bun's
      // own `timeout` is checked on a coarse timer and fires seconds late.)
      fetchOptions: {
        get signal() {
          return AbortSignal.timeout(timeoutMs)
        },
      },
    },
    ...(info && { info }),
  })
}

export function wireBot(options: CreateBotOptions): BotParts {
  const { config, api, logger, metrics, broadcast, now = Date.now } = options
  const sleep = options.sleep ?? abortableSleep
  const timeoutMs = options.telegramTimeoutMs ?? TELEGRAM_CALL_TIMEOUT_MS
  const bot = telegramBot(config.token, config.telegramApiRoot, timeoutMs, options.info)
  // At the drain deadline, calls still waiting on the NPS API give up: the user hears
  // "temporarily unavailable" and the update is done. Left running, it would be cut off by the
  // exit unanswered — and never come again, since the next poll's offset already told Telegram.
  const giveUp = new AbortController()
  const npsApi = abandonable(api, giveUp.signal)
  const languages = createChatLanguages({ api: npsApi })
  const follower = createChatFollower({ api: npsApi, logger })
  const lifecycle = new AbortController()
  const safeMessage = (error: unknown) =>
    (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).replaceAll(
      config.token,
      "[REDACTED]",
    )
  const pacer = options.pacer ?? createPacer(broadcast && { limits: () => broadcast.limits })
  // The chat follower is outermost: on a 403 or a migration it calls the NPS API after the
  // send's permit is given back, and its resend to a supergroup goes through pacing again.
  bot.onApiCall(follower.onApiCall(bot, () => outbound.current()?.priority === "delivery"))
  const outbound = createOutbound({
    ...{ bot, pacer, logger, metrics, broadcast, sleep, safeMessage },
    retry: options.sendRetry ?? { maxAttempts: 3, maxDelayMs: 5_000 },
    signal: lifecycle.signal,
    chatFree: (chatId) => deliveries?.chatFree(chatId),
  })
  bot.onApiCall(outbound.hook)
  registerHandlers(bot, {
    ...{ logger, metrics, languages, follower },
    limiter: options.limiter ?? createRateLimiter({ limit: config.rateLimit, now }),
    rateLimit: config.rateLimit,
    commands: { api: npsApi, logger, languages, now },
  })
  const handle = (update: TelegramUpdate) => bot.updates.handleUpdate(update)
  const dispatcher = createDispatcher({ handle, logger, concurrency: options.concurrency ?? 16 })
  const heartbeat = createHeartbeat({ file: config.heartbeatFile, logger })
  const poller = createPoller({
    ...{ root: config.telegramApiRoot, token: config.token, dispatcher, logger, sleep },
    allowedUpdates: ALLOWED_UPDATES,
    ...options.polling,
    onFailure: metrics && ((code) => metrics.telegramError("getUpdates", code)),
    onPoll: () => heartbeat.beat(),
  })
  metrics?.track({
    pending: () => dispatcher.pending,
    lastPollAt: () => heartbeat.lastAt,
    outboundWaiting: () => pacer.waiting,
  })
  if (broadcast) metrics?.trackPaidBroadcast(() => broadcast.paid)
  const deliveries = deliveryLoop(options, outbound, logger)
  return {
    bot,
    dispatcher,
    poller,
    heartbeat,
    pacer,
    deliveries,
    lifecycle,
    giveUp,
    safeMessage,
    sleep,
  }
}

/** The delivery loop, when this bot delivers notifications: each message through send(). */
function deliveryLoop(options: CreateBotOptions, outbound: Outbound, logger: Logger) {
  if (!options.deliveries) return undefined
  const { metrics } = options
  return createDeliveryLoop({
    ...(typeof options.deliveries === "object" && options.deliveries),
    api: options.api,
    logger,
    onOutcome: metrics && ((outcome, error) => metrics.delivery(outcome, error)),
    send: (chatId, message, signal) => {
      // Exactly what the API handed us (text, parse_mode, buttons, options), to this chat.
      const params = { ...message, chat_id: chatId } as SendMessageParams
      return outbound.send(params, { priority: "delivery", signal })
    },
  })
}
