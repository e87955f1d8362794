// What GramIO does with an update, outermost first: the error boundary that writes the one
// `update handled` line; the chat follower (membership changes and migrations: bookkeeping, no
// reply); the per-chat rate limit; then the commands (one list: commands/index.ts), button taps
// and the fallback for anything else.
import type { Logger } from "@nps/log"
import { describeError } from "@nps/log"
import { type Bot, type Context, TelegramError } from "gramio"
import { type ChatFollower, chatIdOf } from "../chats"
import { callbackHandler } from "../commands/callbacks"
import type { CommandDeps, Outcome } from "../commands/context"
import { fallbackHandler } from "../commands/fallback"
import { COMMAND_NAMES, COMMANDS } from "../commands/index"
import { textsFor } from "../i18n"
import type { ChatLanguages } from "../i18n/chat-languages"
import type { BotMetrics } from "../metrics"
import type { ChatLimiter } from "./shared-rate-limit"

export interface HandlerDeps {
  logger: Logger
  metrics?: BotMetrics
  languages: ChatLanguages
  follower: ChatFollower
  limiter: ChatLimiter
  /** Messages a minute per chat, for the "slow down" text. */
  rateLimit: number
  commands: CommandDeps
}

/** Each update's outcome, set by whichever handler took it, read by the boundary. */
type Outcomes = WeakMap<object, Outcome>

const messageOf = (ctx: Context<Bot>) => (ctx.is("message") ? ctx : undefined)

/** The command a message starts with (without the slash or @bot), for log lines. */
function commandOf(
  text: string | undefined,
  entities: { type: string; offset: number; length: number }[] | undefined,
) {
  const entity = entities?.find((e) => e.type === "bot_command" && e.offset === 0)
  return entity && text ? text.slice(1, entity.length).split("@")[0] : undefined
}

export function registerHandlers(bot: Bot, deps: HandlerDeps): void {
  const { logger, languages, follower } = deps
  const outcomes: Outcomes = new WeakMap()
  bot.use(errorBoundary(deps, outcomes))
  // Membership changes and migrations: bookkeeping only, no reply, never rate limited.
  bot.use(async (ctx, next) => {
    const outcome = await follower.handle(ctx.update)
    if (outcome === undefined) return next()
    outcomes.set(ctx, outcome)
  })
  bot.use(rateLimit(deps, outcomes))

  /** The texts in the chat's language (one API call per chat now and then: chat-languages.ts). */
  const textsOf = async (chatId: number, languageCode: string | undefined) =>
    textsFor(await languages.resolve(chatId, languageCode))
  for (const name of COMMAND_NAMES) {
    const handler = COMMANDS[name](deps.commands)
    bot.command(name, async (ctx) => {
      const t = await textsOf(ctx.chatId, ctx.from?.languageCode)
      outcomes.set(ctx, await handler(ctx, t))
    })
  }
  const onTap = callbackHandler(deps.commands)
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
}

/** Error boundary and the one log line per update. Outermost, so it sees everything. */
function errorBoundary({ logger, metrics, languages }: HandlerDeps, outcomes: Outcomes) {
  return async (ctx: Context<Bot>, next: () => Promise<unknown>) => {
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
      logger.info("update handled", { ...fields, outcome, duration_ms: elapsed() })
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
  }
}

/**
 * Rate limit before any handler, keyed by chat: one group shares one budget. Taps count too
 * (each costs an API call); the notice to a tap is its answer, not a message.
 */
function rateLimit({ limiter, metrics, languages, rateLimit }: HandlerDeps, outcomes: Outcomes) {
  return async (ctx: Context<Bot>, next: () => Promise<unknown>) => {
    const message = messageOf(ctx)
    const tap = ctx.is("callback_query") ? ctx : undefined
    const chatId = message?.chatId ?? tap?.message?.chat.id
    if (chatId === undefined) return next()
    const verdict = await limiter.hit(chatId)
    if (verdict === "allowed") return next()
    outcomes.set(ctx, verdict === "limited" ? "rate_limited" : "rate_limited_silent")
    metrics?.rateLimited(verdict === "limited")
    const from = message?.from ?? tap?.from
    const t =
      verdict === "limited"
        ? textsFor(await languages.resolve(chatId, from?.languageCode))
        : undefined
    if (tap) await tap.answerCallbackQuery(t ? { text: String(t.slowDown(rateLimit)) } : {})
    else if (t) await message?.send(t.slowDown(rateLimit))
  }
}
