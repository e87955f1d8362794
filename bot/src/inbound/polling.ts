// Long polling, driven here instead of by GramIO. GramIO 0.10.0's loop cannot abort its 30 s
// getUpdates (stop() waits for it or abandons it), advances the offset before the batch is queued
// (fixed upstream in f51a55d, after the release), retries 409 forever with a console.error
// carrying the raw error (whose `path` holds the token), and runs handlers with no per-chat order.
// This loop aborts the poll on stop, only moves the offset past updates it has dispatched, honours
// retry_after, backs off on failures, and raises one error when failures persist.
import type { TelegramUpdate } from "@gramio/types"
import type { Logger } from "@nps/log"
import { type Backoff, backoffDelay } from "../backoff"
import type { Dispatcher } from "./dispatcher"

export type PollerState = "idle" | "polling" | "retrying" | "conflict" | "stopped"

export interface PollerOptions {
  /** Bot API root, e.g. https://api.telegram.org */
  root: string
  token: string
  dispatcher: Dispatcher
  logger: Logger
  allowedUpdates?: string[]
  /** Long-poll timeout asked of Telegram, seconds. */
  timeoutSeconds?: number
  /** How long past the long-poll timeout an unanswered getUpdates is given up on. */
  deadlineMarginMs?: number
  backoff?: Backoff
  /** Consecutive failures before one error is logged (and health turns bad). */
  alertAfter?: number
  /** Called after each successful getUpdates (the heartbeat). */
  onPoll?: () => void | Promise<void>
  /** Told of every failed getUpdates: Telegram's error code, or "network" when none came. */
  onFailure?: (code: number | "network") => void
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>
  fetch?: typeof fetch
}

export interface Poller {
  start(): void
  /** Aborts the poll in flight (its batch is then redelivered next time) and ends the loop. */
  stop(): Promise<void>
  /** Tells Telegram every update below `offset` is done, so a restart does not see it again. */
  confirm(offset: number): Promise<void>
  /** Next offset to ask for: one past the last update dispatched. */
  readonly offset: number
  readonly state: PollerState
  readonly lastSuccessAt: number | undefined
  readonly consecutiveFailures: number
}

/** A failed getUpdates, described without the request URL (which contains the token). */
export class PollError extends Error {
  override name = "PollError"
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly retryAfterSeconds: number | undefined,
  ) {
    super(message)
  }
}

export const abortableSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve()
    const done = () => {
      clearTimeout(timer)
      signal.removeEventListener("abort", done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener("abort", done)
  })

const untilAborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) resolve()
    else signal.addEventListener("abort", () => resolve(), { once: true })
  })

/** Turns whatever fetch threw into a PollError whose message cannot contain the token. */
function toPollError(error: unknown, token: string): PollError {
  if (error instanceof PollError) return error
  const e = error as { name?: unknown; code?: unknown; message?: unknown }
  const what = [e.name, e.code].filter((part) => typeof part === "string" && part).join(" ")
  const message =
    typeof e.message === "string" ? e.message.replaceAll(token, "[REDACTED]") : "unknown error"
  return new PollError(
    `getUpdates request failed: ${what ? `${what}: ` : ""}${message}`,
    undefined,
    undefined,
  )
}

export function createPoller(options: PollerOptions): Poller {
  const {
    root,
    token,
    dispatcher,
    logger,
    allowedUpdates,
    timeoutSeconds = 30,
    deadlineMarginMs = 15_000,
    backoff = { initialMs: 1_000, maxMs: 30_000 },
    alertAfter = 3,
    onPoll,
    onFailure,
    sleep = abortableSleep,
    fetch: fetchImpl = fetch,
  } = options
  const url = `${root}/bot${token}/getUpdates`

  let offset = 0
  /** The highest offset Telegram has been sent: everything below it is confirmed there. */
  let confirmedOffset = 0
  let state: PollerState = "idle"
  let lastSuccessAt: number | undefined
  let consecutiveFailures = 0
  let controller: AbortController | undefined
  let loop: Promise<void> | undefined

  const request = async (
    body: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<TelegramUpdate[]> => {
    const response = await fetchImpl(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      // Bound a dead connection: the long poll plus a margin.
      signal: AbortSignal.any([
        signal,
        AbortSignal.timeout(Number(body.timeout ?? 0) * 1000 + deadlineMarginMs),
      ]),
    })
    const text = await response.text()
    let parsed: {
      ok?: boolean
      result?: unknown
      error_code?: number
      description?: string
      parameters?: { retry_after?: number }
    }
    try {
      parsed = JSON.parse(text)
    } catch {
      throw new PollError(
        `getUpdates answered HTTP ${response.status} with a non-JSON body`,
        response.status,
        undefined,
      )
    }
    if (!parsed.ok || !Array.isArray(parsed.result)) {
      throw new PollError(
        parsed.description ?? `getUpdates answered HTTP ${response.status}`,
        parsed.error_code ?? response.status,
        parsed.parameters?.retry_after,
      )
    }
    return parsed.result as TelegramUpdate[]
  }

  const delayFor = (error: PollError) => {
    if (error.retryAfterSeconds !== undefined) return error.retryAfterSeconds * 1000
    return backoffDelay(consecutiveFailures, backoff)
  }

  const run = async (signal: AbortSignal) => {
    while (!signal.aborted) {
      // Backpressure: do not fetch more while the dispatcher is full.
      await Promise.race([dispatcher.hasRoom(), untilAborted(signal)])
      if (signal.aborted) break
      const asked = offset
      try {
        // Until Telegram has answered once, do not ask it to wait: the first answer (and the
        // heartbeat, and health) comes within a second of start, not after a 30 s empty poll.
        const timeout = lastSuccessAt === undefined ? 0 : timeoutSeconds
        const updates = await request(
          { offset: asked, timeout, limit: 100, allowed_updates: allowedUpdates },
          signal,
        )
        confirmedOffset = Math.max(confirmedOffset, asked)
        if (consecutiveFailures >= alertAfter)
          logger.info("polling recovered", { failures: consecutiveFailures })
        consecutiveFailures = 0
        state = "polling"
        lastSuccessAt = Date.now()
        for (const update of updates) {
          if (update.update_id < offset) continue
          dispatcher.dispatch(update)
          offset = update.update_id + 1
        }
        if (updates.length > 0) logger.debug("updates received", { count: updates.length, offset })
        try {
          await onPoll?.()
        } catch (error) {
          logger.warn("heartbeat failed", { error: toPollError(error, token).message })
        }
      } catch (raw) {
        // Aborted by stop(): the batch, if any, never reached us and Telegram keeps it.
        if (signal.aborted) break
        const error = toPollError(raw, token)
        onFailure?.(error.status ?? "network")
        consecutiveFailures++
        const conflict = error.status === 409
        state = conflict ? "conflict" : "retrying"
        const delayMs = delayFor(error)
        const fields = {
          status: error.status,
          error: error.message,
          attempt: consecutiveFailures,
          retry_in_ms: delayMs,
        }
        if (consecutiveFailures === alertAfter) {
          logger.error(
            conflict
              ? /webhook/i.test(error.message)
                ? "polling blocked: a webhook is set for this bot token; delete it (deleteWebhook) to poll"
                : "polling conflict: another process is polling with this bot token (409); only one may run"
              : "polling keeps failing",
            fields,
          )
        } else if (consecutiveFailures < alertAfter) logger.warn("getUpdates failed", fields)
        else logger.debug("getUpdates failed", fields)
        await sleep(delayMs, signal)
      }
    }
    state = "stopped"
  }

  return {
    get offset() {
      return offset
    },
    get state() {
      return state
    },
    get lastSuccessAt() {
      return lastSuccessAt
    },
    get consecutiveFailures() {
      return consecutiveFailures
    },
    start() {
      if (loop) throw new Error("polling already started")
      controller = new AbortController()
      state = "polling"
      loop = run(controller.signal)
    },
    async stop() {
      controller?.abort()
      await loop
      loop = undefined
      state = "stopped"
    },
    async confirm(upTo) {
      if (upTo <= confirmedOffset) return
      try {
        // limit 1, timeout 0: returns at most one newer update, which stays unconfirmed.
        await request({ offset: upTo, timeout: 0, limit: 1 }, AbortSignal.timeout(2_000))
        confirmedOffset = upTo
        logger.debug("offset confirmed", { offset: upTo })
      } catch (error) {
        logger.warn("could not confirm handled updates; they may be delivered again", {
          error: toPollError(error, token).message,
        })
      }
    },
  }
}
