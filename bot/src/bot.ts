// createBot: the GramIO bot with its middleware and commands, plus the machinery around it —
// per-chat ordered dispatch, our own long-polling loop, start-up and a bounded graceful stop.
// No side effects until start() is called; everything it needs is passed in.
import type { TelegramUpdate, TelegramUser } from "@gramio/types"
import type { Logger } from "@nps/log"
import type { Bot } from "gramio"
import type { NpsApi } from "./api-client"
import { keepRegistering } from "./bot-profile"
import type { BotConfig } from "./config"
import type { Heartbeat } from "./heartbeat"
import type { Dispatcher } from "./inbound/dispatcher"
import type { PollerOptions, PollerState } from "./inbound/polling"
import type { ChatLimiter } from "./inbound/shared-rate-limit"
import type { BotMetrics } from "./metrics"
import type { BroadcastMode } from "./outbound/broadcast"
import type { DeliveryLoopOptions } from "./outbound/delivery"
import type { Pacer } from "./outbound/pacer"
import { deleteLeftoverWebhook, identify } from "./telegram-start"
import { type BotParts, wireBot } from "./wiring"

export { ALLOWED_UPDATES, type UpdateType } from "./wiring"

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

export { TokenRejectedError } from "./telegram-start"

export function createBot(options: CreateBotOptions): NpsBot {
  const parts = wireBot(options)
  const { bot, dispatcher, poller, heartbeat } = parts
  const state: RunState = { started: false, stopped: false, registering: undefined }
  return {
    bot,
    handle: (update) => bot.updates.handleUpdate(update),
    dispatch: (update) => dispatcher.dispatch(update),
    idle: () => dispatcher.idle(),
    settled: (updateId) => dispatcher.settled(updateId),
    start: () => startBot(parts, options, state),
    stop: () => stopBot(parts, options, state),
    heartbeat,
    health: () => ({
      state: poller.state,
      lastPollAt: poller.lastSuccessAt,
      consecutiveFailures: poller.consecutiveFailures,
      pending: dispatcher.pending,
    }),
  }
}

interface RunState {
  started: boolean
  stopped: boolean
  /** The command menu's registration, retried in the background until stop. */
  registering: Promise<void> | undefined
}

async function startBot(parts: BotParts, options: CreateBotOptions, state: RunState) {
  const { bot, poller, heartbeat, deliveries, lifecycle, safeMessage, sleep } = parts
  const { logger, config, broadcast } = options
  const mode = options.mode ?? "polling"
  if (state.started) throw new Error("bot already started")
  state.started = true
  // Health is this process's to earn: a heartbeat left by an earlier process (a restarted
  // container keeps its files) must not vouch for one that has not reached Telegram yet.
  await heartbeat.clear()
  const backoff = options.polling?.backoff ?? { initialMs: 1_000, maxMs: 30_000 }
  const signal = lifecycle.signal
  await identify(bot, { logger, safeMessage, backoff, signal, sleep })
  if (signal.aborted) return
  // The menu and descriptions in every language; retried in the background, never fatal.
  const registration = keepRegistering({ bot, logger, safeMessage, signal, sleep, backoff })
  state.registering = registration.done
  await registration.firstPass
  if (signal.aborted) return
  if (mode === "polling") {
    await deleteLeftoverWebhook(bot, { logger, safeMessage })
    if (signal.aborted) return
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
}

/** Stops polling at once, lets in-flight updates finish (bounded), confirms what was handled. */
async function stopBot(parts: BotParts, options: CreateBotOptions, state: RunState) {
  const { dispatcher, poller, deliveries, lifecycle, giveUp } = parts
  const { logger, drainTimeoutMs = 5_000, drainGraceMs = 2_000 } = options
  if (state.stopped) return
  state.stopped = true
  lifecycle.abort()
  // Deliveries stop beside the updates: hand back or finish what is held, then report it.
  const deliveriesStopped = state.started ? deliveries?.stop() : undefined
  await poller.stop()
  let drained = await idleWithin(dispatcher, drainTimeoutMs)
  if (!drained) {
    logger.warn("updates still waiting on the NPS API; answering them as unavailable", {
      pending: dispatcher.pending,
    })
    giveUp.abort()
    drained = await idleWithin(dispatcher, drainGraceMs)
  }
  if (!drained) logger.warn("stopped before every update finished", { pending: dispatcher.pending })
  // Confirm everything finished, up to the first unfinished update (which must come again).
  // (A webhook answers each update itself.)
  if (state.started && (options.mode ?? "polling") === "polling")
    await poller.confirm(dispatcher.lowestUnfinished() ?? poller.offset)
  await deliveriesStopped
  await state.registering?.catch(() => {})
  logger.info("bot stopped", { drained })
}

/** True once nothing is queued or running, false if that takes longer than `ms`. */
async function idleWithin(dispatcher: Dispatcher, ms: number) {
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
