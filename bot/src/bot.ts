// createBot: the GramIO bot with its middleware and commands, plus the machinery around it —
// per-chat ordered dispatch, our own long-polling loop, start-up and a bounded graceful stop.
// No side effects until start() is called; everything it needs is passed in.
import { writeFile } from "node:fs/promises"
import type { TelegramUpdate, TelegramUser } from "@gramio/types"
import { describeError, type Logger } from "@nps/log"
import { Bot, type Context, TelegramError } from "gramio"
import type { NpsApi } from "./api-client"
import { chatIdOf, createChatFollower } from "./chat-state"
import type { CommandDeps, CommandHandler, Outcome } from "./commands/context"
import { fallbackHandler } from "./commands/fallback"
import { helpCommand } from "./commands/help"
import { linkCommand } from "./commands/link"
import { profileCommand } from "./commands/profile"
import { startCommand } from "./commands/start"
import { statusCommand } from "./commands/status"
import { unlinkCommand } from "./commands/unlink"
import type { BotConfig } from "./config"
import { createDeliveryLoop, type DeliveryLoopOptions } from "./delivery"
import { createDispatcher } from "./dispatcher"
import { createPacer, type Pacer } from "./pacer"
import { abortableSleep, createPoller, type PollerOptions, type PollerState } from "./polling"
import { createRateLimiter } from "./rate-limit"
import { COMMANDS, texts } from "./texts"

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
  polling?: Pick<PollerOptions, "timeoutSeconds" | "backoff" | "alertAfter" | "sleep" | "fetch">
  /** Replies hit by a flood limit (429) are retried this many times, if the wait is short. */
  sendRetry?: { maxAttempts: number; maxDelayMs: number }
  /** The outbound budget every message draws from (default: Telegram's limits, in memory). */
  pacer?: Pacer
  /**
   * Deliver notifications: lease them from the API and send them (needs the service key).
   * An object tunes the loop.
   */
  deliveries?: boolean | Partial<Omit<DeliveryLoopOptions, "api" | "send" | "logger">>
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>
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
  /** getMe (retried while Telegram is unreachable), command menu, then long polling. */
  start(): Promise<void>
  /** Stops polling at once, lets in-flight updates finish (bounded), confirms what was handled. */
  stop(): Promise<void>
  health(): BotHealth
}

/** Telegram refused the token itself: retrying cannot help. */
export class TokenRejectedError extends Error {
  override name = "TokenRejectedError"
}

const messageOf = (ctx: Context<Bot>) => (ctx.is("message") ? ctx : undefined)

/** Calls that put a message in a chat: what Telegram's flood limits count. */
const PACED = /^(send(?!ChatAction)|copyMessage|forwardMessage)/

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
    sleep = abortableSleep,
  } = options
  const sendRetry = options.sendRetry ?? { maxAttempts: 3, maxDelayMs: 5_000 }
  const bot = new Bot(config.token, {
    // Bun's per-request idle timeout: a hung Bot API call cannot pin a chat's lane forever.
    api: {
      baseURL: `${config.telegramApiRoot}/bot`,
      fetchOptions: { timeout: 15_000 } as RequestInit,
    },
    ...(options.info && { info: options.info }),
  })
  const limiter = createRateLimiter({ limit: config.rateLimit, now })
  const outcomes = new WeakMap<object, Outcome>()
  const deps: CommandDeps = { api, logger }
  const follower = createChatFollower({ api, logger })
  const lifecycle = new AbortController()
  const pacer = options.pacer ?? createPacer()
  /** Messages the delivery loop sends, with the signal that withdraws them while they wait. */
  const deliverySends = new WeakMap<object, AbortSignal>()

  // Every message waits for its turn in the one outbound budget: replies first, deliveries
  // after. A 429 pauses every send for retry_after. Replies are retried a few times when the
  // pause is short (anything longer fails the call: the user would not be waiting anyway);
  // deliveries are not retried here: the delivery loop reports them for later.
  bot.onApiCall(async (call, next) => {
    const params = call.params as { chat_id?: unknown } | undefined
    const chatId = params?.chat_id
    if (!PACED.test(call.method) || (typeof chatId !== "number" && typeof chatId !== "string"))
      return next()
    const delivery = deliverySends.get(params as object)
    for (let attempt = 1; ; attempt++) {
      const permit = await pacer.acquire(chatId, delivery ? "delivery" : "reply", delivery)
      try {
        return await next()
      } catch (error) {
        const retryAfter = error instanceof TelegramError ? error.payload?.retry_after : undefined
        if (retryAfter === undefined) throw error
        pacer.pause(retryAfter * 1000)
        logger.warn("telegram flood limit: every send waits", {
          method: call.method,
          retry_after: retryAfter,
          attempt,
        })
        if (
          delivery ||
          attempt >= sendRetry.maxAttempts ||
          retryAfter * 1000 > sendRetry.maxDelayMs
        )
          throw error
      } finally {
        permit.done()
      }
    }
  })
  // Inside the flood retries: a 403 marks the chat blocked, a migration moves its link.
  bot.onApiCall(follower.onApiCall(bot))

  // Error boundary and the one log line per update. Outermost, so it sees everything.
  bot.use(async (ctx, next) => {
    const started = performance.now()
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
      logger.info("update handled", {
        ...fields,
        outcome,
        duration_ms: Math.round(performance.now() - started),
      })
    } catch (error) {
      // Blocked by the user or removed from the group: nobody to tell, nothing to fix.
      if (error instanceof TelegramError && error.code === 403) {
        logger.info("update handled", {
          ...fields,
          outcome: "forbidden",
          reason: error.message,
          duration_ms: Math.round(performance.now() - started),
        })
        return
      }
      logger.error("update failed", {
        ...fields,
        outcome: "error",
        duration_ms: Math.round(performance.now() - started),
        error: describeError(error),
      })
      try {
        await message?.send(texts.somethingWrong())
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

  // Rate limit before any handler, keyed by chat: one group shares one budget.
  bot.use(async (ctx, next) => {
    const message = messageOf(ctx)
    if (!message) return next()
    const verdict = limiter.hit(message.chatId)
    if (verdict === "allowed") return next()
    outcomes.set(ctx, verdict === "limited" ? "rate_limited" : "rate_limited_silent")
    if (verdict === "limited") await message.send(texts.slowDown(config.rateLimit))
  })

  const handlers: Record<string, CommandHandler> = {
    start: startCommand(deps),
    link: linkCommand(deps),
    help: helpCommand(),
    status: statusCommand(deps),
    profile: profileCommand(deps),
    unlink: unlinkCommand(deps),
  }
  for (const { command } of COMMANDS) {
    const handler = handlers[command]
    if (!handler) throw new Error(`no handler for /${command}`)
    bot.command(command, async (ctx) => {
      outcomes.set(ctx, await handler(ctx))
    })
  }
  const fallback = fallbackHandler(() => bot.info?.username)
  bot.on("message", async (ctx) => {
    outcomes.set(ctx, await fallback(ctx))
  })
  // Only reached if the boundary itself throws; keeps GramIO from console.error-ing raw errors.
  bot.onError(({ error }) => {
    logger.error("unhandled bot error", { error: describeError(error) })
  })

  const handle = (update: TelegramUpdate) => bot.updates.handleUpdate(update)
  const dispatcher = createDispatcher({ handle, logger, concurrency: options.concurrency ?? 16 })

  let heartbeatWarned = false
  const heartbeat = config.heartbeatFile
  const poller = createPoller({
    root: config.telegramApiRoot,
    token: config.token,
    dispatcher,
    logger,
    // my_chat_member: Telegram tells the bot when a user blocks or unblocks it.
    allowedUpdates: ["message", "my_chat_member"],
    sleep,
    ...options.polling,
    onPoll: heartbeat
      ? async () => {
          try {
            await writeFile(heartbeat, new Date().toISOString())
          } catch (error) {
            if (!heartbeatWarned)
              logger.warn("could not write the heartbeat file", { error: describeError(error) })
            heartbeatWarned = true
          }
        }
      : undefined,
  })

  const deliveries = options.deliveries
    ? createDeliveryLoop({
        ...(typeof options.deliveries === "object" && options.deliveries),
        api,
        logger,
        send: (d, signal) => {
          // Plain text exactly as accepted: no parse_mode, no entities.
          const params = { chat_id: d.telegram_chat_id, text: d.text }
          deliverySends.set(params, signal)
          return bot.api.sendMessage(params)
        },
      })
    : undefined

  let started = false
  let stopped = false

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
        const delay = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt - 1, 20))
        logger.warn("Telegram unreachable at start, retrying", {
          attempt,
          retry_in_ms: delay,
          error: error instanceof Error ? error.message : String(error),
        })
        await sleep(delay, lifecycle.signal)
      }
    }
  }

  return {
    bot,
    handle,
    dispatch: (update) => dispatcher.dispatch(update),
    idle: () => dispatcher.idle(),

    async start() {
      if (started) throw new Error("bot already started")
      started = true
      await identify()
      if (lifecycle.signal.aborted) return
      try {
        await bot.api.setMyCommands({
          commands: COMMANDS.map(({ command, description }) => ({ command, description })),
        })
      } catch (error) {
        logger.warn("could not register the command menu", {
          error: error instanceof Error ? error.message : String(error),
        })
      }
      if (lifecycle.signal.aborted) return
      // No dropPendingUpdates: whatever arrived while the bot was down is handled now.
      poller.start()
      deliveries?.start()
      logger.info("bot started", {
        username: bot.info?.username,
        rate_limit: config.rateLimit,
        deliveries: Boolean(deliveries),
      })
    },

    async stop() {
      if (stopped) return
      stopped = true
      lifecycle.abort()
      // Deliveries stop beside the updates: hand back or finish what is held, then report it.
      const deliveriesStopped = started ? deliveries?.stop() : undefined
      await poller.stop()
      let timer: ReturnType<typeof setTimeout> | undefined
      const drained = await Promise.race([
        dispatcher.idle().then(() => true),
        new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), drainTimeoutMs)
        }),
      ])
      clearTimeout(timer)
      if (!drained)
        logger.warn("stopped before every update finished", { pending: dispatcher.pending })
      // Confirm everything finished, up to the first unfinished update (which must come again).
      if (started) await poller.confirm(dispatcher.lowestUnfinished() ?? poller.offset)
      await deliveriesStopped
      logger.info("bot stopped", { drained })
    },

    health: () => ({
      state: poller.state,
      lastPollAt: poller.lastSuccessAt,
      consecutiveFailures: poller.consecutiveFailures,
      pending: dispatcher.pending,
    }),
  }
}
