// Webhook mode (BOT_MODE=webhook): Telegram POSTs each update to WEBHOOK_URL, and the bot answers
// 2xx only once the update is handled — so an update a dying replica did not finish comes again.
//
// Written here rather than with GramIO 0.10.0's webhookHandler, which compares the secret with
// `!==` (not in constant time), answers 200 before handling unless `shouldWait` is set, throws on
// a body that is not JSON and feeds updates straight to the handlers — past our per-chat ordered
// dispatcher and its de-duplication. Updates here go through the same dispatcher as polling.
import { timingSafeEqual } from "node:crypto"
import type { TelegramUpdate } from "@gramio/types"
import { describeError, type Logger } from "@nps/log"
import { TelegramError } from "gramio"
import { type Backoff, backoffDelay } from "../backoff"
import type { NpsBot, UpdateType } from "../bot"
import type { WebhookConfig } from "../config"
import type { Heartbeat } from "../heartbeat"
import { abortableSleep } from "./polling"
import type { UpdateLedger } from "./update-ledger"

export const SECRET_HEADER = "x-telegram-bot-api-secret-token"

/** WEBHOOK_PORT is taken: the message names it. */
export class WebhookPortInUseError extends Error {
  override name = "WebhookPortInUseError"
}

/** Telegram refused setWebhook for a reason retrying cannot fix (a bad URL, a refused token). */
export class WebhookRejectedError extends Error {
  override name = "WebhookRejectedError"
  constructor(
    message: string,
    readonly variable: "WEBHOOK_URL" | "NPS_BOT_TOKEN",
  ) {
    super(message)
  }
}

export interface WebhookReceiverOptions {
  nps: Pick<NpsBot, "bot" | "dispatch" | "settled">
  webhook: WebhookConfig
  /** The update types registered with setWebhook (what the bot handles). */
  allowedUpdates: UpdateType[]
  ledger: UpdateLedger
  logger: Logger
  /** How long a request waits for its update before answering 503 (Telegram then redelivers). */
  handleTimeoutMs?: number
  /** Beaten every `heartbeatEveryMs` while the receiver can serve (healthcheck and metric). */
  heartbeat?: Pick<Heartbeat, "beat">
  heartbeatEveryMs?: number
  backoff?: Backoff
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>
}

export interface WebhookReceiver {
  /** The port bound (WEBHOOK_PORT, or the one picked for 0). */
  readonly port: number
  /** Registers the webhook with Telegram (retried while unreachable); then the bot can serve. */
  start(): Promise<void>
  /** Stops accepting at once: the port closes; requests already in flight go on. */
  close(): void
  /**
   * After the bot has drained: updates still unfinished are given back (their requests answer
   * 503 and their claims are released), then the server stops.
   */
  finish(): Promise<void>
  /** What GET /healthz says: registered and not stopping. */
  healthy(): boolean
}

type Outcome = "handled" | "busy"

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  Response.json(body, { status, headers })
const failure = (status: number, error: string, message: string) =>
  json(status, { error, message }, status === 503 ? { "retry-after": "1" } : {})

const digest = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest()

/** A Telegram update as far as the bot relies on it: an object with a whole update_id. */
function isUpdate(body: unknown): body is TelegramUpdate {
  const id = (body as { update_id?: unknown } | null)?.update_id
  return typeof body === "object" && Number.isSafeInteger(id) && (id as number) >= 0
}

export function createWebhookReceiver(options: WebhookReceiverOptions): WebhookReceiver {
  const {
    nps,
    webhook,
    ledger,
    logger,
    handleTimeoutMs = 10_000,
    heartbeatEveryMs = 10_000,
    sleep = abortableSleep,
  } = options
  const expected = digest(webhook.secret)
  const lifecycle = new AbortController()
  // Requests still waiting when the bot gives up on its unfinished updates answer 503.
  let abandon: () => void = () => {}
  const abandoned = new Promise<"abandoned">((resolve) => {
    abandon = () => resolve("abandoned")
  })
  /** Updates being taken care of here, by id: a concurrent redelivery waits for the same work. */
  const work = new Map<number, Promise<Outcome>>()
  let ready = false
  let stopping = false
  let stopped: Promise<void> | undefined
  let lastRefusalLog = 0
  let heartbeat: ReturnType<typeof setInterval> | undefined

  // Hashing both sides makes the comparison constant-time whatever their lengths.
  const authentic = (request: Request) =>
    timingSafeEqual(digest(request.headers.get(SECRET_HEADER) ?? ""), expected)

  const take = (update: TelegramUpdate): Promise<Outcome> => {
    const id = update.update_id
    const existing = work.get(id)
    if (existing) return existing
    const job = (async (): Promise<Outcome> => {
      const claim = await ledger.claim(id)
      if (claim === "done") return "handled"
      if (claim === "busy") return "busy"
      if (stopping) {
        await ledger.release(id)
        return "busy"
      }
      nps.dispatch(update)
      await nps.settled(id)
      await ledger.finish(id)
      return "handled"
    })().finally(() => work.delete(id))
    work.set(id, job)
    return job
  }

  const receive = async (request: Request): Promise<Response> => {
    if (!authentic(request)) {
      // Anyone who learns the URL can try; one line a minute is enough to notice.
      if (Date.now() - lastRefusalLog > 60_000) {
        lastRefusalLog = Date.now()
        logger.warn("webhook request refused: missing or wrong secret token (401)")
      }
      return failure(401, "unauthorized", "missing or wrong X-Telegram-Bot-Api-Secret-Token")
    }
    if (!ready || stopping)
      return failure(503, "unavailable", "this replica is not serving; try again")
    let update: unknown
    try {
      update = await request.json()
    } catch {
      return failure(400, "bad_request", "the body is not JSON")
    }
    if (!isUpdate(update)) return failure(400, "bad_request", "the body is not a Telegram update")
    let timer: ReturnType<typeof setTimeout> | undefined
    const outcome = await Promise.race([
      take(update),
      abandoned,
      new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), handleTimeoutMs)
      }),
    ])
    clearTimeout(timer)
    if (outcome === "handled") return new Response("ok")
    if (outcome === "busy")
      logger.debug("update is being handled elsewhere; asked Telegram to retry", {
        update_id: update.update_id,
      })
    else
      logger.warn(
        outcome === "timeout"
          ? "update not handled in time; Telegram will deliver it again"
          : "stopping with the update unfinished; Telegram will deliver it again",
        { update_id: update.update_id },
      )
    return failure(503, "not_handled", "the update was not handled yet; deliver it again")
  }

  let server: ReturnType<typeof Bun.serve>
  try {
    server = Bun.serve({
      hostname: webhook.host,
      port: webhook.port,
      // Telegram updates are a few KB; nothing legitimate comes near this.
      maxRequestBodySize: 1024 * 1024,
      fetch: async (request) => {
        const { pathname } = new URL(request.url)
        if (pathname === "/healthz") {
          if (request.method !== "GET" && request.method !== "HEAD")
            return failure(405, "method_not_allowed", "GET /healthz")
          return ready && !stopping
            ? json(200, { status: "ok" })
            : failure(503, "unavailable", "not serving")
        }
        if (pathname !== webhook.path) return failure(404, "not_found", "no such path")
        if (request.method !== "POST") return failure(405, "method_not_allowed", "POST only")
        try {
          return await receive(request)
        } catch (error) {
          // Whatever broke, Telegram should try again rather than lose the update.
          logger.error("webhook request failed", { error: describeError(error) })
          return failure(503, "unavailable", "the update was not handled; deliver it again")
        }
      },
    })
  } catch (error) {
    if ((error as { code?: unknown }).code === "EADDRINUSE")
      throw new WebhookPortInUseError(
        `WEBHOOK_PORT ${webhook.port} is already in use: stop whatever listens there, or set WEBHOOK_PORT to a free port`,
      )
    throw error
  }

  const touch = async () => options.heartbeat?.beat()

  /** setWebhook until Telegram answers; a refusal is final. */
  const register = async () => {
    const backoff = options.backoff ?? { initialMs: 1_000, maxMs: 30_000 }
    for (let attempt = 1; !lifecycle.signal.aborted; attempt++) {
      try {
        await nps.bot.api.setWebhook({
          url: webhook.url,
          secret_token: webhook.secret,
          allowed_updates: options.allowedUpdates,
          // Never: updates sent while no replica ran are handled now.
          drop_pending_updates: false,
        })
        return true
      } catch (error) {
        if (error instanceof TelegramError && error.code < 500 && error.code !== 429)
          throw new WebhookRejectedError(
            `Telegram refused setWebhook (${error.code} ${error.message})`,
            error.code === 401 || error.code === 404 ? "NPS_BOT_TOKEN" : "WEBHOOK_URL",
          )
        const retryAfter = error instanceof TelegramError ? error.payload?.retry_after : undefined
        const delay = retryAfter !== undefined ? retryAfter * 1000 : backoffDelay(attempt, backoff)
        logger.warn("could not register the webhook, retrying", {
          attempt,
          retry_in_ms: delay,
          error: error instanceof TelegramError ? `${error.code} ${error.message}` : String(error),
        })
        await sleep(delay, lifecycle.signal)
      }
    }
    return false
  }

  return {
    get port() {
      return server.port as number
    },
    async start() {
      if (!(await register())) return
      ready = true
      await touch()
      heartbeat = setInterval(() => void touch(), heartbeatEveryMs)
      heartbeat.unref()
      const { origin } = new URL(webhook.url)
      logger.info("webhook registered", {
        webhook: origin,
        listen: `${webhook.host}:${server.port}`,
        allowed_updates: options.allowedUpdates,
      })
    },
    close() {
      if (stopping) return
      stopping = true
      lifecycle.abort()
      clearInterval(heartbeat)
      stopped = server.stop()
    },
    async finish() {
      this.close()
      const unfinished = [...work.keys()]
      if (unfinished.length > 0)
        logger.warn("giving unfinished updates back to Telegram", { update_ids: unfinished })
      await Promise.all(unfinished.map((id) => ledger.release(id)))
      abandon()
      // Every request has its answer now; give the connections a moment to take it.
      await Promise.race([stopped, Bun.sleep(1_000)])
      await server.stop(true)
    },
    healthy: () => ready && !stopping,
  }
}
