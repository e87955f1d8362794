// The delivery loop: takes notifications' deliveries from the API (a long-polled lease), sends
// each through the outbound pacer, and reports what Telegram answered. It knows nothing of how
// updates arrive (polling or a webhook): it needs only the API and a way to send a message.
//
// Telegram's answers become outcomes the API records: a message Telegram accepted is `sent`; 429
// is a `retry` after retry_after (the pacer has already paused every send); 5xx, network errors
// and timeouts a `retry` after a capped exponential backoff; 403 `failed: blocked`; 400 "chat
// not found" `failed: chat_not_found`; any other 400 `failed: rejected`. A lease that runs out
// before its message could go (a long 429 pause) is handed back, as is everything unsent at stop.
import { describeError, type Logger } from "@nps/log"
import { TelegramError } from "gramio"
import type { Delivery, DeliveryReport, NpsApi } from "../api-client"
import { type Backoff, backoffDelay } from "../backoff"
import { abortableSleep } from "../inbound/polling"

export interface SentMessage {
  /** Where Telegram put it (another id than asked when a group became a supergroup). */
  chat: { id: number }
}

/**
 * One message of a delivery: sendMessage's parameters without chat_id, exactly as the API hands
 * them (INTERFACE.md: text, parse_mode, reply_markup, disable_notification, protect_content,
 * link_preview_options). A split text is several, in order.
 */
export type DeliveryMessage = { text: string } & Record<string, unknown>

/** The messages still to send: what the API leased, or (an older API) the plain text. */
export const messagesOf = (d: Delivery): DeliveryMessage[] => {
  const messages = (d as { messages?: DeliveryMessage[] }).messages
  return messages?.length ? messages : [{ text: d.text }]
}

/** Sends one message of a delivery as given; rejects with what Telegram answered. */
export type SendDelivery = (
  chatId: number,
  message: DeliveryMessage,
  signal: AbortSignal,
) => Promise<SentMessage>

export interface DeliveryLoopOptions {
  api: Pick<NpsApi, "lease" | "report">
  send: SendDelivery
  logger: Logger
  /** Deliveries held at once (leased and not yet reported). */
  capacity?: number
  /** Long-poll length asked of the API. */
  waitSeconds?: number
  /** Backoff while the API cannot be reached. */
  backoff?: Backoff
  /** Retry delays for Telegram's 5xx and network errors, by attempt: initial·2^(n-1), capped. */
  retryBackoff?: { initialSeconds: number; maxSeconds: number }
  /** At stop: how long sends already on the wire may take to finish, and reports to land. */
  stopGraceMs?: { sends: number; reports: number }
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>
  /** Told how each delivery ended here ("handed_back": returned unsent at stop or lease end). */
  onOutcome?: (outcome: Outcome["outcome"] | "handed_back", error?: string) => void
}

export interface DeliveryLoop {
  start(): void
  /** Stops leasing, finishes or hands back what it holds, and reports it (bounded). */
  stop(): Promise<void>
  /** Deliveries leased and not yet reported. */
  readonly holding: number
  /** While a split text is being sent to this chat: resolves after its last part. */
  chatFree(chatId: number): Promise<void> | undefined
}

/** Handed back before a lease could expire under it: another process may take it meanwhile. */
const LEASE_MARGIN_MS = 5_000

type Outcome = Omit<DeliveryReport, "id" | "lease_id">

const message = (error: unknown) => (error instanceof Error ? error.message : String(error))

/** What Telegram's answer (or its absence) means for a delivery. */
export function outcomeOf(
  error: unknown,
  attempts: number,
  retryBackoff: { initialSeconds: number; maxSeconds: number },
): Outcome {
  if (error instanceof TelegramError) {
    const retryAfter = error.payload?.retry_after
    if (error.code === 429 && retryAfter !== undefined)
      return { outcome: "retry", retry_after_seconds: retryAfter }
    if (error.code === 403) return { outcome: "failed", error: "blocked" }
    if (error.code === 400 && /chat not found/i.test(error.message))
      return { outcome: "failed", error: "chat_not_found" }
    if (error.code === 400) return { outcome: "failed", error: "rejected" }
  }
  // 5xx, 401/404 (the token itself), network errors, timeouts: try again later.
  const seconds = backoffDelay(attempts, {
    initialMs: retryBackoff.initialSeconds,
    maxMs: retryBackoff.maxSeconds,
  })
  return { outcome: "retry", retry_after_seconds: Math.round(seconds) }
}

export function createDeliveryLoop(options: DeliveryLoopOptions): DeliveryLoop {
  const {
    api,
    send,
    logger,
    capacity = 100,
    waitSeconds = 25,
    backoff = { initialMs: 1_000, maxMs: 30_000 },
    retryBackoff = { initialSeconds: 2, maxSeconds: 300 },
    stopGraceMs = { sends: 3_000, reports: 2_000 },
    sleep = abortableSleep,
    onOutcome,
  } = options
  // Lease again once half the capacity is free: fewer, fuller leases.
  const lowWater = Math.floor(capacity / 2)
  const stopping = new AbortController()
  let leasing: Promise<void> | undefined
  let freed: (() => void) | undefined
  /** Each delivery's send, resolving when its outcome is known. */
  const inFlight = new Set<Promise<void>>()

  // Reports, batched: whatever accumulated while the previous report was on its way.
  const pending: (DeliveryReport & { expiresAt: number })[] = []
  let flushing: Promise<void> | undefined
  const flush = async () => {
    let failures = 0
    while (pending.length) {
      // Past its lease the API would ignore it (stale): the delivery is leased again anyway.
      const now = Date.now()
      const batch = pending.splice(0, 100).filter((r) => r.expiresAt > now)
      if (!batch.length) continue
      const result = await api.report(batch.map(({ expiresAt: _, ...report }) => report))
      if (result.kind === "ok") {
        failures = 0
        if (result.stale)
          logger.warn("deliveries reported after their lease expired", { stale: result.stale })
        continue
      }
      if (result.kind === "error") {
        // The API refused the report itself: a bug, not an outage; retrying cannot help.
        logger.error("delivery report refused", { status: result.status, code: result.code })
        continue
      }
      pending.unshift(...batch)
      failures++
      const delay = backoffDelay(failures, backoff)
      await sleep(delay, AbortSignal.timeout(delay))
    }
  }
  const kick = () => {
    if (flushing || !pending.length) return
    flushing = flush().finally(() => {
      flushing = undefined
      kick()
    })
  }

  /** Leased and not yet settled, by delivery id. */
  const held = new Map<number, { d: Delivery; leaseId: string; expiresAt: number }>()
  const settle = (d: Delivery, outcome: Outcome) => {
    const lease = held.get(d.id)
    if (!lease) return // already settled (handed back at stop)
    held.delete(d.id)
    pending.push({ id: d.id, lease_id: lease.leaseId, ...outcome, expiresAt: lease.expiresAt })
    kick()
    if (held.size <= lowWater) freed?.()
  }
  /** How many of each delivery's messages Telegram has accepted so far. */
  const partsSent = new Map<number, number>()
  const sentSoFar = (d: Delivery) => {
    const parts = partsSent.get(d.id) ?? 0
    return parts > 0 ? { parts_sent: parts } : {}
  }
  const handBack = (d: Delivery) => {
    onOutcome?.("handed_back")
    settle(d, { outcome: "retry", retry_after_seconds: 0, ...sentSoFar(d) })
  }

  // One delivery at a time per chat, in lease order, so a split text's parts go one after
  // another with no other delivery between them.
  const chats = new Map<number, Promise<void>>()
  const inTurn = (chatId: number, run: () => Promise<void>) => {
    const previous = chats.get(chatId) ?? Promise.resolve()
    const mine = previous.then(run)
    chats.set(chatId, mine)
    return mine.finally(() => {
      if (chats.get(chatId) === mine) chats.delete(chatId)
    })
  }
  // Chats a split text is being sent to, until its last part: a reply there waits (chatFree),
  // while between whole deliveries replies still go first.
  const splitting = new Map<number, Promise<void>>()

  const deliver = async (d: Delivery, expiresAt: number) => {
    // Give up waiting for a turn in time to hand it back before the lease runs out.
    const deadline = AbortSignal.timeout(Math.max(0, expiresAt - LEASE_MARGIN_MS - Date.now()))
    const signal = AbortSignal.any([stopping.signal, deadline])
    if (signal.aborted) return handBack(d)
    const messages = messagesOf(d)
    let parted: (() => void) | undefined
    if (messages.length > 1)
      splitting.set(
        d.telegram_chat_id,
        new Promise<void>((resolve) => {
          parted = resolve
        }),
      )
    try {
      let chatId = d.telegram_chat_id
      for (const message of messages) {
        if (signal.aborted) return handBack(d)
        const sent = await send(chatId, message, signal)
        // A group that became a supergroup: the rest follows the first part there.
        chatId = sent.chat.id
        partsSent.set(d.id, (partsSent.get(d.id) ?? 0) + 1)
      }
      settle(d, {
        outcome: "sent",
        ...(chatId !== d.telegram_chat_id && { chat_id: chatId }),
      })
      onOutcome?.("sent")
      logger.info("notification delivered", {
        delivery_id: d.id,
        notification_id: d.notification_id,
        chat_id: chatId,
      })
    } catch (error) {
      // Never sent: the wait for a turn was cut short (stopping, or the lease running out).
      if (signal.aborted && !(error instanceof TelegramError)) return handBack(d)
      const outcome = { ...outcomeOf(error, d.attempts, retryBackoff), ...sentSoFar(d) }
      settle(d, outcome)
      onOutcome?.(outcome.outcome, outcome.outcome === "failed" ? outcome.error : undefined)
      logger[outcome.outcome === "failed" ? "info" : "warn"]("notification not delivered", {
        delivery_id: d.id,
        notification_id: d.notification_id,
        chat_id: d.telegram_chat_id,
        ...outcome,
        reason: error instanceof TelegramError ? error.message : message(error),
      })
    } finally {
      partsSent.delete(d.id)
      if (parted) {
        splitting.delete(d.telegram_chat_id)
        parted()
      }
    }
  }

  const run = async () => {
    let failures = 0
    while (!stopping.signal.aborted) {
      if (held.size > lowWater) {
        await new Promise<void>((resolve) => {
          freed = resolve
        })
        freed = undefined
        continue
      }
      const leasedAt = Date.now()
      const result = await api.lease({ max: capacity - held.size, waitSeconds }, stopping.signal)
      if (result.kind !== "ok") {
        if (stopping.signal.aborted) break
        failures++
        const delay = backoffDelay(failures, backoff)
        if (result.kind === "error")
          logger.error(
            "cannot lease deliveries: the API refused (is TELEGRAM_BOT_SERVICE_KEY right?)",
            {
              status: result.status,
              code: result.code,
              retry_in_ms: delay,
            },
          )
        await sleep(delay, stopping.signal)
        continue
      }
      failures = 0
      const { lease_id: leaseId, lease_seconds: seconds, deliveries } = result.lease
      // Our own clock from when we asked: the API's may differ from ours.
      const expiresAt = leasedAt + seconds * 1000
      if (deliveries.length) logger.debug("deliveries leased", { count: deliveries.length })
      for (const d of deliveries) {
        held.set(d.id, { d, leaseId, expiresAt })
        const done: Promise<void> = inTurn(d.telegram_chat_id, () => deliver(d, expiresAt)).finally(
          () => inFlight.delete(done),
        )
        inFlight.add(done)
      }
    }
  }

  return {
    get holding() {
      return held.size
    },
    chatFree: (chatId) => splitting.get(chatId),
    start() {
      if (leasing) throw new Error("delivery loop already started")
      leasing = run().catch((error) =>
        logger.error("delivery loop failed", { error: describeError(error) }),
      )
    },
    async stop() {
      stopping.abort(new Error("stopping"))
      freed?.()
      await leasing
      // Waiting turns end at once (handed back); sends on the wire get a moment to finish.
      const finished = await Promise.race([
        Promise.all(inFlight).then(() => true),
        Bun.sleep(stopGraceMs.sends).then(() => false),
      ])
      if (!finished) {
        // Most likely lost; if Telegram did take one, it may be sent twice.
        logger.warn("stopping with sends unanswered; handing them back", { count: held.size })
        for (const { d } of [...held.values()]) handBack(d)
      }
      await Promise.race([flushing ?? Promise.resolve(), Bun.sleep(stopGraceMs.reports)])
      if (pending.length)
        logger.warn(
          "stopped before every delivery result was reported; they will be leased again",
          {
            count: pending.length,
          },
        )
    },
  }
}
