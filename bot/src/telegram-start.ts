// What start() asks of Telegram before taking updates: who the bot is (getMe, retried while
// Telegram is unreachable) and, when polling, that no webhook is left set.
import type { Logger } from "@nps/log"
import { type Bot, TelegramError } from "gramio"
import { type Backoff, backoffDelay } from "./backoff"

/** Telegram refused the token itself: retrying cannot help. */
export class TokenRejectedError extends Error {
  override name = "TokenRejectedError"
}

interface StartDeps {
  logger: Logger
  /** An error's text with the token blanked out. */
  safeMessage: (error: unknown) => string
}

/** getMe until Telegram answers or `signal` aborts; a refused token is final. */
export async function identify(
  bot: Bot,
  {
    logger,
    safeMessage,
    backoff,
    signal,
    sleep,
  }: StartDeps & {
    backoff: Backoff
    signal: AbortSignal
    sleep: (ms: number, signal: AbortSignal) => Promise<void>
  },
): Promise<void> {
  for (let attempt = 1; !signal.aborted; attempt++) {
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
      await sleep(delay, signal)
    }
  }
}

/**
 * Polling and a webhook exclude each other: a webhook left set (BOT_MODE was webhook) is
 * deleted, explicitly, keeping its pending updates for the poll.
 */
export async function deleteLeftoverWebhook(bot: Bot, { logger, safeMessage }: StartDeps) {
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
