// createBot: the GramIO bot with its middleware and commands, plus the machinery around it —
// per-chat ordered dispatch, our own long-polling loop, start-up and a bounded graceful stop.
// No side effects until start() is called; everything it needs is passed in.
import type { SendMessageParams, TelegramUpdate, TelegramUser } from "@gramio/types"
import { describeError, type Logger } from "@nps/log"
import { Bot, type Context, TelegramError } from "gramio"
import type { NpsApi } from "./api-client"
import { backoffDelay } from "./backoff"
import { keepRegistering } from "./bot-profile"
import type { BroadcastMode } from "./broadcast"
import { chatIdOf, createChatFollower } from "./chat-state"
import { callbackHandler } from "./commands/callbacks"
import type { CommandDeps, Outcome } from "./commands/context"
import { fallbackHandler } from "./commands/fallback"
import { COMMAND_NAMES, COMMANDS } from "./commands/index"
import type { BotConfig } from "./config"
import { createDeliveryLoop, type DeliveryLoopOptions } from "./delivery"
import { createDispatcher } from "./dispatcher"
import { createHeartbeat, type Heartbeat } from "./heartbeat"
import { textsFor } from "./i18n"
import { createChatLanguages } from "./i18n/chat-languages"
import type { BotMetrics } from "./metrics"
import { createOutbound } from "./outbound/send"
import { createPacer, type Pacer, TELEGRAM_CALL_TIMEOUT_MS } from "./pacer"
import { abortableSleep, createPoller, type PollerOptions, type PollerState } from "./polling"
import { createRateLimiter } from "./rate-limit"
import type { ChatLimiter } from "./shared-rate-limit"

/** The update types the bot handles — asked of getUpdates, registered with setWebhook. */
// my_chat_member: Telegram tells the bot when a user blocks or unblocks it; callback_query: taps
// on the /settings and /language buttons.
export const ALLOWED_UPDATES: UpdateType[] = ["message", "my_chat_member", "callback_query"]

export type UpdateType = Exclude<keyof TelegramUpdate, "update_id">

export interface CreateBotOptions {
  config: Pick<BotConfig, "token" | "rateLimit" | "telegramApiRoot" | "heartbeatFile">
  api: NpsApi
  logger: Logger
  /** Milliseconds clock for the rate limiter. */
  now?: () => number
  /** Known bot identity: skips getMe. */
  info?: TelegramUser
  /** Chats handled at the same time. */
  concurrency?: number
  /** How long stop() lets in-flight updates finish. */
  drainTimeoutMs?: number
  /**
   * After that, NPS API calls still waiting give up ("temporarily unavailable"), and the updates
   * get this long to send that reply.
   */
  drainGraceMs?: number
  polling?: Pick<
    PollerOptions,
    "timeoutSeconds" | "backoff" | "alertAfter" | "sleep" | "fetch" | "deadlineMarginMs"
  >
  /**
   * Outgoing Bot API calls that fail for a passing reason — a flood limit (429) with a short
   * retry_after, a 5xx, no answer — are tried this many times in all; waits longer than
   * maxDelayMs are not retried (the user would not be waiting anyway).
   */
  sendRetry?: { maxAttempts: number; maxDelayMs: number }
  /** How long one outgoing Bot API call may take before it counts as failed. */
  telegramTimeoutMs?: number
  /** Prometheus metrics to record into (METRICS_PORT); none when absent. */
  metrics?: BotMetrics
  /** The outbound budget every message draws from (default: Telegram's limits, in memory). */
  pacer?: Pacer
  /**
   * Paid broadcast (TELEGRAM_PAID_BROADCAST): while `paid`, deliveries carry allow_paid_broadcast;
   * a refusal switches it off and the message goes again without. Give the pacer its limits.
   */
  broadcast?: BroadcastMode
  /**
   * Deliver notifications: lease them from the API and send them (needs the service key).
   * An object tunes the loop.
   */
  deliveries?: boolean | Partial<Omit<DeliveryLoopOptions, "api" | "send" | "logger">>
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>
  /**
   * polling (default): start() polls, after deleting a webhook left set. webhook: updates come
   * through dispatch() (webhook.ts) and start() does not poll.
   */
  mode?: "polling" | "webhook"
  /** The per-chat limit; default: this process's memory (REDIS_URL: shared-rate-limit.ts). */
  limiter?: ChatLimiter
}

export interface BotHealth {
  state: PollerState
  lastPollAt: number | undefined
  consecutiveFailures: number
  pending: number
}

export interface NpsBot {
  /** The GramIO bot, handlers registered. */
  readonly bot: Bot
  /** Runs one update through the middleware and handlers now (no ordering, no dedupe). */
  handle(update: TelegramUpdate): Promise<void>
  /** Queues an update in its chat's lane; false for a duplicate. */
  dispatch(update: TelegramUpdate): boolean
  /** Resolves when no update is queued or running. */
  idle(): Promise<void>
  /** Resolves once this update is no longer queued or running. */
  settled(updateId: number): Promise<void>
  /** getMe (retried while Telegram is unreachable), command menu, then long polling. */
  start(): Promise<void>
  /** Stops polling at once, lets in-flight updates finish (bounded), confirms what was handled. */
  stop(): Promise<void>
  health(): BotHealth
  /** Beaten by the poller, or in webhook mode by the webhook receiver while it serves. */
  readonly heartbeat: Heartbeat
}

/** Telegram refused the token itself: retrying cannot help. */
export class TokenRejectedError extends Error {
  override name = "TokenRejectedError"
}

const messageOf = (ctx: Context<Bot>) => (ctx.is("message") ? ctx : undefined)

/** The command a message starts with (without the slash or @bot), for log lines. */
function commandOf(
  text: string | undefined,
  entities: { type: string; offset: number; length: number }[] | undefined,
) {
  const entity = entities?.find((e) => e.type === "bot_command" && e.offset === 0)
  return entity && text ? text.slice(1, entity.length).split("@")[0] : undefined
}

export function createBot(options: CreateBotOptions): NpsBot {
  const {
    config,
    api,
    logger,
    now = Date.now,
    drainTimeoutMs = 5_000,
    drainGraceMs = 2_000,
    sleep = abortableSleep,
  } = options
  const sendRetry = options.sendRetry ?? { maxAttempts: 3, maxDelayMs: 5_000 }
  const metrics = options.metrics
  const telegramTimeoutMs = options.telegramTimeoutMs ?? TELEGRAM_CALL_TIMEOUT_MS
  const bot = new Bot(config.token, {
    api: {
      baseURL: `${config.telegramApiRoot}/bot`,
      // A deadline per call, so a hung Bot API call cannot pin a chat's lane. A getter because
      // GramIO spreads fetchOptions into every request: each call gets a fresh signal. (Bun's
      // own `timeout` is checked on a coarse timer and fires seconds late.)
      fetchOptions: {
        get signal() {
          return AbortSignal.timeout(telegramTimeoutMs)
        },
      },
    },
    ...(options.info && { info: options.info }),
  })
  const mode = options.mode ?? "polling"
  const limiter = options.limiter ?? createRateLimiter({ limit: config.rateLimit, now })
  const outcomes = new WeakMap<object, Outcome>()
  // At the drain deadline, calls still waiting on the NPS API give up: the user hears
  // "temporarily unavailable" and the update is done. Left running, it would be cut off by the
  // exit unanswered — and never come again, since the next poll's offset already told Telegram.
  const giveUp = new AbortController()
  const npsApi = abandonable(api, giveUp.signal)
  const languages = createChatLanguages({ api: npsApi })
  const deps: CommandDeps = { api: npsApi, logger, languages, now }
  const follower = createChatFollower({ api: npsApi, logger })
  const lifecycle = new AbortController()
  /** An error's kind and message, with the token (which Bot API URLs contain) blanked out. */
  const safeMessage = (error: unknown) =>
    (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).replaceAll(
      config.token,
      "[REDACTED]",
    )
  const broadcast = options.broadcast
  const pacer = options.pacer ?? createPacer(broadcast && { limits: () => broadcast.limits })
  // The chat follower is outermost: on a 403 or a migration it calls the NPS API after the
  // send's permit is given back, and its resend to a supergroup goes through pacing again.
  bot.onApiCall(follower.onApiCall(bot, () => outbound.current()?.priority === "delivery"))
  const outbound = createOutbound({
    bot,
    pacer,
    logger,
    metrics,
    broadcast,
    retry: sendRetry,
    sleep,
    signal: lifecycle.signal,
    safeMessage,
    chatFree: (chatId) => deliveries?.chatFree(chatId),
  })
  bot.onApiCall(outbound.hook)

  // Error boundary and the one log line per update. Outermost, so it sees everything.
  bot.use(async (ctx, next) => {
    const started = performance.now()
    // To 0.01 ms, as the API logs it: the bot's own share of a reply is well under a millisecond.
    const elapsed = () => Math.round((performance.now() - started) * 100) / 100
    const message = messageOf(ctx)
    const fields = {
      update_id: ctx.updateId,
      chat_id: message?.chatId ?? chatIdOf(ctx.update),
      chat_type: message?.chatType,
      command: commandOf(message?.text, message?.entities),
    }
    try {
      await next()
      const outcome = outcomes.get(ctx) ?? "ignored"
      metrics?.update(outcome)
      logger.info("update handled", {
        ...fields,
        outcome,
        duration_ms: elapsed(),
      })
    } catch (error) {
      // Blocked by the user or removed from the group: nobody to tell, nothing to fix.
      if (error instanceof TelegramError && error.code === 403) {
        metrics?.update("forbidden")
        logger.info("update handled", {
          ...fields,
          outcome: "forbidden",
          reason: error.message,
          duration_ms: elapsed(),
        })
        return
      }
      metrics?.update("error")
      logger.error("update failed", {
        ...fields,
        outcome: "error",
        duration_ms: elapsed(),
        error: describeError(error),
      })
      try {
        const lang = languages.peek(fields.chat_id ?? 0, ctx.update?.message?.from?.language_code)
        await message?.send(textsFor(lang).somethingWrong())
      } catch (replyError) {
        logger.warn("could not tell the user something went wrong", {
          ...fields,
          error: describeError(replyError),
        })
      }
    }
  })

  // Membership changes and migrations: bookkeeping only, no reply, never rate limited.
  bot.use(async (ctx, next) => {
    const outcome = await follower.handle(ctx.update)
    if (outcome === undefined) return next()
    outcomes.set(ctx, outcome)
  })

  /** The texts in the chat's language (one API call per chat now and then: chat-languages.ts). */
  const textsOf = async (chatId: number, languageCode: string | undefined) =>
    textsFor(await languages.resolve(chatId, languageCode))

  // Rate limit before any handler, keyed by chat: one group shares one budget. Taps count too
  // (each costs an API call); the notice to a tap is its answer, not a message.
  bot.use(async (ctx, next) => {
    const message = messageOf(ctx)
    const tap = ctx.is("callback_query") ? ctx : undefined
    const chatId = message?.chatId ?? tap?.message?.chat.id
    if (chatId === undefined) return next()
    const verdict = await limiter.hit(chatId)
    if (verdict === "allowed") return next()
    outcomes.set(ctx, verdict === "limited" ? "rate_limited" : "rate_limited_silent")
    metrics?.rateLimited(verdict === "limited")
    const from = message?.from ?? tap?.from
    const t = verdict === "limited" ? await textsOf(chatId, from?.languageCode) : undefined
    if (tap) await tap.answerCallbackQuery(t ? { text: String(t.slowDown(config.rateLimit)) } : {})
    else if (t) await message?.send(t.slowDown(config.rateLimit))
  })

  for (const name of COMMAND_NAMES) {
    const handler = COMMANDS[name](deps)
    bot.command(name, async (ctx) => {
      const t = await textsOf(ctx.chatId, ctx.from?.languageCode)
      outcomes.set(ctx, await handler(ctx, t))
    })
  }
  const onTap = callbackHandler(deps)
  bot.on("callback_query", async (ctx) => {
    outcomes.set(ctx, await onTap(ctx))
  })
  const fallback = fallbackHandler(() => bot.info?.username)
  bot.on("message", async (ctx) => {
    outcomes.set(ctx, await fallback(ctx, () => textsOf(ctx.chatId, ctx.from?.languageCode)))
  })
  // Only reached if the boundary itself throws; keeps GramIO from console.error-ing raw errors.
  bot.onError(({ error }) => {
    logger.error("unhandled bot error", { error: describeError(error) })
  })

  const handle = (update: TelegramUpdate) => bot.updates.handleUpdate(update)
  const dispatcher = createDispatcher({ handle, logger, concurrency: options.concurrency ?? 16 })

  const heartbeat = createHeartbeat({ file: config.heartbeatFile, logger })
  const poller = createPoller({
    root: config.telegramApiRoot,
    token: config.token,
    dispatcher,
    logger,
    allowedUpdates: ALLOWED_UPDATES,
    sleep,
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
  const deliveries = options.deliveries
    ? createDeliveryLoop({
        ...(typeof options.deliveries === "object" && options.deliveries),
        api,
        logger,
        onOutcome: metrics && ((outcome, error) => metrics.delivery(outcome, error)),
        send: (chatId, message, signal) => {
          // Exactly what the API handed us (text, parse_mode, buttons, options), to this chat.
          const params = { ...message, chat_id: chatId } as SendMessageParams
          return outbound.send(params, { priority: "delivery", signal })
        },
      })
    : undefined

  let started = false
  let stopped = false
  let registering: Promise<void> | undefined

  /** getMe until Telegram answers; a refused token is final. */
  const identify = async () => {
    const backoff = options.polling?.backoff ?? { initialMs: 1_000, maxMs: 30_000 }
    for (let attempt = 1; !lifecycle.signal.aborted; attempt++) {
      try {
        await bot.init()
        return
      } catch (error) {
        if (error instanceof TelegramError && (error.code === 401 || error.code === 404))
          throw new TokenRejectedError(
            `Telegram rejected NPS_BOT_TOKEN (getMe: ${error.code} ${error.message})`,
          )
        const delay = backoffDelay(attempt, backoff)
        logger.warn("Telegram unreachable at start, retrying", {
          attempt,
          retry_in_ms: delay,
          error: safeMessage(error),
        })
        await sleep(delay, lifecycle.signal)
      }
    }
  }

  /**
   * Polling and a webhook exclude each other: a webhook left set (BOT_MODE was webhook) is
   * deleted, explicitly, keeping its pending updates for the poll.
   */
  const deleteLeftoverWebhook = async () => {
    try {
      const info = await bot.api.getWebhookInfo()
      if (!info.url) return
      await bot.api.deleteWebhook({ drop_pending_updates: false })
      logger.info("deleted the webhook left set for this bot, to poll instead", {
        webhook: URL.canParse(info.url) ? new URL(info.url).origin : undefined,
        pending_updates: info.pending_update_count,
      })
    } catch (error) {
      // Polling then reports the conflict (409) itself, with what to do.
      logger.warn("could not check for a webhook left set", { error: safeMessage(error) })
    }
  }

  return {
    bot,
    handle,
    dispatch: (update) => dispatcher.dispatch(update),
    idle: () => dispatcher.idle(),
    settled: (updateId) => dispatcher.settled(updateId),

    async start() {
      if (started) throw new Error("bot already started")
      started = true
      // Health is this process's to earn: a heartbeat left by an earlier process (a restarted
      // container keeps its files) must not vouch for one that has not reached Telegram yet.
      await heartbeat.clear()
      await identify()
      if (lifecycle.signal.aborted) return
      // The menu and descriptions in every language; retried in the background, never fatal.
      const registration = keepRegistering({
        bot,
        logger,
        safeMessage,
        signal: lifecycle.signal,
        sleep,
        backoff: options.polling?.backoff ?? { initialMs: 1_000, maxMs: 30_000 },
      })
      registering = registration.done
      await registration.firstPass
      if (lifecycle.signal.aborted) return
      if (mode === "polling") {
        await deleteLeftoverWebhook()
        if (lifecycle.signal.aborted) return
        // No dropPendingUpdates: whatever arrived while the bot was down is handled now.
        poller.start()
      }
      deliveries?.start()
      logger.info("bot started", {
        username: bot.info?.username,
        rate_limit: config.rateLimit,
        mode,
        deliveries: Boolean(deliveries),
        ...(broadcast && {
          paid_broadcast: broadcast.paid,
          deliveries_per_second: broadcast.limits.deliveriesPerSecond,
        }),
      })
    },

    async stop() {
      if (stopped) return
      stopped = true
      lifecycle.abort()
      // Deliveries stop beside the updates: hand back or finish what is held, then report it.
      const deliveriesStopped = started ? deliveries?.stop() : undefined
      await poller.stop()
      const idleWithin = async (ms: number) => {
        let timer: ReturnType<typeof setTimeout> | undefined
        const idle = await Promise.race([
          dispatcher.idle().then(() => true),
          new Promise<false>((resolve) => {
            timer = setTimeout(() => resolve(false), ms)
          }),
        ])
        clearTimeout(timer)
        return idle
      }
      let drained = await idleWithin(drainTimeoutMs)
      if (!drained) {
        logger.warn("updates still waiting on the NPS API; answering them as unavailable", {
          pending: dispatcher.pending,
        })
        giveUp.abort()
        drained = await idleWithin(drainGraceMs)
      }
      if (!drained)
        logger.warn("stopped before every update finished", { pending: dispatcher.pending })
      // Confirm everything finished, up to the first unfinished update (which must come again).
      // (A webhook answers each update itself.)
      if (started && mode === "polling")
        await poller.confirm(dispatcher.lowestUnfinished() ?? poller.offset)
      await deliveriesStopped
      await registering?.catch(() => {})
      logger.info("bot stopped", { drained })
    },

    heartbeat,
    health: () => ({
      state: poller.state,
      lastPollAt: poller.lastSuccessAt,
      consecutiveFailures: poller.consecutiveFailures,
      pending: dispatcher.pending,
    }),
  }
}

/** The same API, except that once `signal` aborts every call (waiting or new) is "unavailable". */
function abandonable(api: NpsApi, signal: AbortSignal): NpsApi {
  const unavailable = { kind: "unavailable" } as const
  const abandoned = new Promise<typeof unavailable>((resolve) =>
    signal.addEventListener("abort", () => resolve(unavailable), { once: true }),
  )
  // Every NpsApi result type includes { kind: "unavailable" } (api-client.ts Failure).
  return Object.fromEntries(
    Object.entries(api).map(([name, call]: [string, (...args: unknown[]) => Promise<unknown>]) => [
      name,
      (...args: unknown[]) =>
        signal.aborted ? Promise.resolve(unavailable) : Promise.race([call(...args), abandoned]),
    ]),
  ) as unknown as NpsApi
}
