// The one capped exponential backoff every retry loop in the bot uses.

export interface Backoff {
  initialMs: number
  maxMs: number
}

/** The wait before retry number `attempt` (1-based): initial·2^(attempt-1), at most maxMs. */
export const backoffDelay = (attempt: number, { initialMs, maxMs }: Backoff): number =>
  Math.min(maxMs, initialMs * 2 ** Math.min(Math.max(attempt - 1, 0), 20))
