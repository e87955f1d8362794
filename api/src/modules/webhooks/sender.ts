// The loop that empties the outbox: leases due messages, checks the URL again (DNS can change),
// POSTs the signed event, and settles each attempt: sent, retried on the schedule, or given up.
import type { Db } from "@nps/db"
import type { Logger } from "@nps/log"
import type { Principal } from "../../auth"
import { ApiError, describeForLog, isDatabaseUnavailable } from "../../errors"
import { getNotification } from "../notifications/service"
import type { BackgroundMetrics } from "./metrics"
import { type LeasedMessage, leaseMessages, nextMessageDueInMs, settleMessage } from "./outbox"
import { recordHealth } from "./service"
import { signPayload } from "./sign"
import { checkWebhookUrl, type UrlPolicy } from "./ssrf"

const MINUTE = 60_000
/** After the first attempt fails: about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, then give up. */
export const RETRY_SCHEDULE_MS = [
  5_000,
  5 * MINUTE,
  30 * MINUTE,
  120 * MINUTE,
  300 * MINUTE,
  600 * MINUTE,
]
const MAX_RESPONSE_BYTES = 64 * 1024

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

// getNotification's view for the event body: the sender's own notification, unrestricted.
const SYSTEM: Principal = {
  userId: "",
  username: "",
  role: "admin",
  isActive: true,
  via: "jwt",
  scopes: [],
}

/** Reads at most 64 KiB of a response and drops it: a receiver cannot make us buffer more. */
async function drain(response: Response): Promise<void> {
  const reader = response.body?.getReader()
  if (!reader) return
  let read = 0
  try {
    while (read < MAX_RESPONSE_BYTES) {
      const chunk = await reader.read()
      if (chunk.done) return
      read += chunk.value.byteLength
    }
  } finally {
    await reader.cancel().catch(() => {})
  }
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

  /** One POST; resolves to null on a 2xx, else to why it failed (never secret, never the URL). */
  async function post(message: LeasedMessage, body: string): Promise<string | null> {
    try {
      await checkWebhookUrl(message.url, policy)
    } catch (error) {
      if (error instanceof ApiError) return error.code
      throw error
    }
    const headers = signPayload(message.secret, message.msgId, now(), body)
    try {
      const response = await send(message.url, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": "nps-webhooks/1", ...headers },
        body,
        redirect: "manual",
        signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), stopping.signal]),
      })
      await drain(response).catch(() => {})
      if (response.status >= 200 && response.status < 300) return null
      return response.status >= 300 && response.status < 400
        ? `HTTP ${response.status} (redirects are not followed)`
        : `HTTP ${response.status}`
    } catch (error) {
      if (stopping.signal.aborted) return "interrupted"
      const name = (error as { name?: string }).name
      return name === "TimeoutError"
        ? `no answer within ${timeoutMs / 1000} s`
        : "connection failed"
    }
  }

  async function attempt(message: LeasedMessage): Promise<void> {
    let data: unknown
    try {
      data = await getNotification(db, message.notificationId, SYSTEM)
    } catch (error) {
      if (error instanceof ApiError) return // deleted meanwhile: its message went with it
      throw error
    }
    const body = JSON.stringify({
      type: "notification.finished",
      timestamp: message.createdAt.toISOString(),
      data,
    })
    const error = await post(message, body)
    const at = now()
    if (error === "interrupted") {
      // Shutting down: hand it back at once, this attempt not counted.
      return settleMessage(db, message, { kind: "retry", at, error: "interrupted" }, true)
    }
    await recordHealth(db, message.endpointId, at, error)
    const ids = {
      message_id: message.msgId,
      endpoint_id: message.endpointId,
      attempt: message.attempts,
    }
    if (error === null) {
      metrics.webhook("sent")
      return settleMessage(db, message, { kind: "sent" })
    }
    const delay = schedule[message.attempts - 1]
    if (delay === undefined) {
      metrics.webhook("given_up")
      logger.warn(
        `status webhook given up after ${message.attempts} attempts; the receiver will not get this event`,
        { ...ids, error },
      )
      return settleMessage(db, message, { kind: "given_up", error })
    }
    metrics.webhook("retried")
    logger.info("status webhook attempt failed; will retry", { ...ids, error, retry_in_ms: delay })
    return settleMessage(db, message, {
      kind: "retry",
      at: new Date(at.getTime() + delay),
      error,
    })
  }

  /** One pass: leases what is due and attempts it all; resolves to how many it took. */
  async function runOnce(): Promise<number> {
    const messages = await leaseMessages(db, { max: options.batch ?? 20, leaseMs }, now())
    await Promise.all(
      messages.map((message) =>
        attempt(message).catch((error) =>
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

export type WebhookSender = ReturnType<typeof createWebhookSender>
