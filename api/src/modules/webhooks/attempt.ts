// One attempt to deliver a status webhook: the event body (the notification as GET shows it),
// the URL checked again (DNS can change), a signed POST, and the outcome recorded.
import type { Db } from "@nps/db"
import type { Logger } from "@nps/log"
import type { Principal } from "../../auth"
import { ApiError } from "../../errors"
import { getNotification } from "../notifications/service"
import type { BackgroundMetrics } from "./metrics"
import { type LeasedMessage, settleMessage } from "./outbox"
import { recordHealth } from "./service"
import { signPayload } from "./sign"
import { checkWebhookUrl, type UrlPolicy } from "./ssrf"

const MAX_RESPONSE_BYTES = 64 * 1024

export interface AttemptContext {
  db: Db
  logger: Logger
  now: () => Date
  policy: UrlPolicy
  metrics: BackgroundMetrics
  send: typeof fetch
  /** Delays before each retry; an attempt beyond them gives the message up. */
  schedule: readonly number[]
  timeoutMs: number
  /** Aborted when the sender stops: in-flight POSTs end and their messages are handed back. */
  stopping: () => AbortSignal
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

/** One POST; resolves to null on a 2xx, else to why it failed (never secret, never the URL). */
async function post(
  c: AttemptContext,
  message: LeasedMessage,
  body: string,
): Promise<string | null> {
  try {
    await checkWebhookUrl(message.url, c.policy)
  } catch (error) {
    if (error instanceof ApiError) return error.code
    throw error
  }
  const headers = signPayload(message.secret, message.msgId, c.now(), body)
  try {
    const response = await c.send(message.url, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "nps-webhooks/1", ...headers },
      body,
      redirect: "manual",
      signal: AbortSignal.any([AbortSignal.timeout(c.timeoutMs), c.stopping()]),
    })
    await drain(response).catch(() => {})
    if (response.status >= 200 && response.status < 300) return null
    return response.status >= 300 && response.status < 400
      ? `HTTP ${response.status} (redirects are not followed)`
      : `HTTP ${response.status}`
  } catch (error) {
    if (c.stopping().aborted) return "interrupted"
    const name = (error as { name?: string }).name
    return name === "TimeoutError"
      ? `no answer within ${c.timeoutMs / 1000} s`
      : "connection failed"
  }
}

/** One attempt of one leased message, settled: sent, retried on the schedule, or given up. */
export async function attempt(c: AttemptContext, message: LeasedMessage): Promise<void> {
  const { db, logger, metrics } = c
  let data: unknown
  try {
    data = await getNotification(db, message.notificationId, SYSTEM, c.now())
  } catch (error) {
    if (error instanceof ApiError) return // deleted meanwhile: its message went with it
    throw error
  }
  const body = JSON.stringify({
    type: "notification.finished",
    timestamp: message.createdAt.toISOString(),
    data,
  })
  const error = await post(c, message, body)
  const at = c.now()
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
  const delay = c.schedule[message.attempts - 1]
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
