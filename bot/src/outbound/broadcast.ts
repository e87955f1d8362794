// How fast notifications go out, and whether Telegram bills them (paid broadcast, Bot API 7.11):
// free, deliveries share Telegram's 30 messages a second with replies; paid, they carry
// `allow_paid_broadcast: true` and may go up to 1,000 a second, 0.1 Star each above the free 30.
// If Telegram refuses a paid send (Stars balance too low, paid broadcast not enabled for the bot),
// this process goes back to the free limits for good — one warning, a metric — and the refused
// message is sent again without the flag.
//
// Free of other imports on purpose: config.ts reads the limits before GramIO may be loaded.
import type { Logger } from "@nps/log"
import type { PacerLimits } from "./pacer"

/** Telegram's free broadcasting limit, messages a second. */
export const FREE_BROADCAST_LIMIT = 30
/** What allow_paid_broadcast allows, messages a second. */
export const PAID_BROADCAST_LIMIT = 1_000
/** TELEGRAM_BROADCAST_RATE's default: a little under the free limit, room for replies. */
export const DEFAULT_BROADCAST_RATE = 28

const SECOND = 1_000

/**
 * The pacer's limits: Telegram's per-chat and per-group windows always; free, every message in
 * the 30-a-second window; paid, deliveries outside it (they ignore the broadcasting limit) and
 * everything inside the 1,000-a-second one. Deliveries go at `rate` a second on average, in bursts
 * of up to a twentieth of a second's worth, so a late timer does not lower the rate.
 */
export function broadcastLimits(paid: boolean, rate: number): PacerLimits {
  const deliveriesPerSecond = paid ? rate : Math.min(rate, FREE_BROADCAST_LIMIT)
  return {
    overall: { limit: FREE_BROADCAST_LIMIT, windowMs: SECOND },
    ...(paid && { paid: { limit: PAID_BROADCAST_LIMIT, windowMs: SECOND } }),
    privateChat: { limit: 1, windowMs: SECOND },
    groupChat: { limit: 20, windowMs: 60 * SECOND },
    deliveriesPerSecond,
    deliveryBurst: Math.max(4, Math.ceil(deliveriesPerSecond / 20)),
  }
}

/** Telegram's answer to a call, as GramIO's TelegramError carries it. */
export interface TelegramRefusal {
  code: number
  message: string
}

// Telegram's wording when the bot cannot pay: the MTProto error BALANCE_TOO_LOW ("the current
// Telegram Stars balance is too low"), which the Bot API passes on as "Bad Request:
// BALANCE_TOO_LOW", and any description naming paid broadcasts (the flag or its MTProto name,
// allow_paid_floodskip) or a Stars balance. An ordinary flood limit ("Too Many Requests: retry
// after N") names none of these.
const PAID_REFUSAL =
  /BALANCE_TOO_LOW|paid[ _-]?broadcast|floodskip|\bstars?\b.*\b(balance|enough|insufficient)|\b(balance|enough|insufficient)\b.*\bstars?\b/i

/** A 400 or 429 saying the bot may not (or cannot afford to) send paid broadcasts. */
export function isPaidBroadcastRefusal(error: TelegramRefusal): boolean {
  return (error.code === 400 || error.code === 429) && PAID_REFUSAL.test(error.message)
}

export interface BroadcastModeOptions {
  /** TELEGRAM_PAID_BROADCAST. */
  paid: boolean
  /** TELEGRAM_BROADCAST_RATE. */
  rate: number
  logger: Logger
  /** Told of each refusal of a paid send (a metric). */
  onRefusal?: () => void
}

export interface BroadcastMode {
  /** Deliveries carry allow_paid_broadcast now. */
  readonly paid: boolean
  /** The pacer's limits now (a new object when they change). */
  readonly limits: PacerLimits
  /** Telegram refused a paid send: send free from now on. Logged the first time only. */
  refused(error: TelegramRefusal): void
}

export function createBroadcastMode(options: BroadcastModeOptions): BroadcastMode {
  const { rate, logger, onRefusal } = options
  let paid = options.paid
  let limits = broadcastLimits(paid, rate)
  return {
    get paid() {
      return paid
    },
    get limits() {
      return limits
    },
    refused(error) {
      onRefusal?.()
      if (!paid) return
      paid = false
      limits = broadcastLimits(false, rate)
      logger.warn(
        `Telegram refused a paid broadcast (${error.message}): notifications now go without allow_paid_broadcast, at most ${limits.deliveriesPerSecond} a second, until the bot restarts. Check the bot's Stars balance and that paid broadcasts are enabled for it, or set TELEGRAM_PAID_BROADCAST=false`,
        {
          variable: "TELEGRAM_PAID_BROADCAST",
          code: error.code,
          deliveries_per_second: limits.deliveriesPerSecond,
        },
      )
    },
  }
}
