// The loop that empties the outbox: leases due messages, checks the URL again (DNS can change),
// POSTs the signed event, and settles each attempt: sent, retried on the schedule, or given up.
import type { Db } from "@nps/db"
import type { Logger } from "@nps/log"
import { describeForLog, isDatabaseUnavailable } from "../../errors"
import { type AttemptContext, attempt } from "./attempt"
import type { BackgroundMetrics } from "./metrics"
import { leaseMessages, nextMessageDueInMs } from "./outbox"
import type { UrlPolicy } from "./ssrf"

const MINUTE = 60_000
/** After the first attempt fails: about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, then give up. */
const RETRY_SCHEDULE_MS = [5_000, 5 * MINUTE, 30 * MINUTE, 120 * MINUTE, 300 * MINUTE, 600 * MINUTE]

export interface SenderOptions {
  db: Db
  logger: Logger
  now: () => Date
  policy: UrlPolicy
  metrics: BackgroundMetrics
  fetch?: typeof fetch
  retryScheduleMs?: readonly number[]
  /** Look for due messages at least this often (other replicas' events, retries coming due). */
  pollMs?: number
  /** A replica that dies mid-send leaves the message to others after this. */
  leaseMs?: number
  batch?: number
  timeoutMs?: number
}

export function createWebhookSender(options: SenderOptions) {
  const { db, logger, now, policy, metrics } = options
  const send = options.fetch ?? fetch
  const schedule = options.retryScheduleMs ?? RETRY_SCHEDULE_MS
  const pollMs = options.pollMs ?? 1_000
  const leaseMs = options.leaseMs ?? 60_000
  const timeoutMs = options.timeoutMs ?? 10_000
  let stopping = new AbortController()
  let running: Promise<void> | undefined
  let wake: (() => void) | undefined
  const context: AttemptContext = {
    db,
    logger,
    now,
    policy,
    metrics,
    send,
    schedule,
    timeoutMs,
    stopping: () => stopping.signal,
  }

  /** One pass: leases what is due and attempts it all; resolves to how many it took. */
  async function runOnce(): Promise<number> {
    const messages = await leaseMessages(db, { max: options.batch ?? 20, leaseMs }, now())
    await Promise.all(
      messages.map((message) =>
        attempt(context, message).catch((error) =>
          logger.error("status webhook attempt failed unexpectedly", {
            message_id: message.msgId,
            error: describeForLog(error),
          }),
        ),
      ),
    )
    return messages.length
  }

  async function loop(signal: AbortSignal) {
    while (!signal.aborted) {
      let waitMs = pollMs
      try {
        if ((await runOnce()) > 0) continue
        const due = await nextMessageDueInMs(db, now())
        if (due !== undefined) waitMs = Math.min(pollMs, Math.max(due, 10))
      } catch (error) {
        // The database is away: the request log reports outages; here, quietly try again.
        const log = isDatabaseUnavailable(error) ? logger.debug : logger.error
        log("status webhook sender could not read the outbox", { error: describeForLog(error) })
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs)
        wake = () => {
          clearTimeout(timer)
          resolve()
        }
        signal.addEventListener("abort", wake, { once: true })
      })
    }
  }

  return {
    runOnce,
    /** Look at the outbox now (an event was just written here). */
    nudge: () => wake?.(),
    start() {
      if (running) return
      stopping = new AbortController()
      running = loop(stopping.signal)
    },
    /** Stops looking, aborts in-flight POSTs (handed back for later), waits for the loop. */
    async stop() {
      stopping.abort()
      await running
      running = undefined
    },
  }
}
