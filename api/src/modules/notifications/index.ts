import { Elysia } from "elysia"
import { authPlugin } from "../../auth"
import type { Deps } from "../../context"
import { answers } from "../../docs"
import { acceptNotification } from "./accept"
import { leaseDeliveries, nextDueInMs } from "./lease"
import {
  AcceptedNotification,
  Lease,
  LeaseRequest,
  NotificationIdParams,
  NotificationView,
  ReportRequest,
  ReportResult,
} from "./model"
import { reportDeliveries } from "./report"
import { NotificationRequest } from "./request"
import { getNotification } from "./service"
import type { Wakeup } from "./wakeup"

export interface DeliveryOptions {
  wakeup: Wakeup
  /** How long a lease lasts: a bot that dies holding one has its deliveries leased again after. */
  leaseMs: number
  /** A waiting lease re-checks at least this often (a NOTIFY lost while reconnecting). */
  recheckMs: number
}

const DEFAULT_MAX = 50

export const notificationRoutes = (deps: Deps, options: DeliveryOptions) => {
  const { wakeup, leaseMs, recheckMs } = options
  return new Elysia({ prefix: "/telegram", tags: ["notifications"] })
    .use(authPlugin(deps))
    .post(
      "/notifications",
      async ({ body, principal, set }) => {
        // Everything about accepting one lives in acceptNotification: batch items share it.
        const { created, status, notification } = await acceptNotification(deps, body, principal)
        if (created) wakeup.wake()
        set.status = status
        return notification
      },
      {
        auth: "telegram:notify",
        body: NotificationRequest,
        response: {
          200: AcceptedNotification,
          202: AcceptedNotification,
          403: answers("The API key lacks 'telegram:notify', or the JWT is not an admin's"),
          404: answers("No such user (user_not_found), or the user is deactivated (user_inactive)"),
          409: answers(
            "The idempotency_key was already used with another body (idempotency_key_reused)",
          ),
          422: answers(
            "A field fails the schema or its rules, the message naming it (validation_error), or the HTML is not what Telegram parses (invalid_html, with the first problem and its character offset)",
          ),
        },
        detail: {
          summary: "Send a notification to a user's Telegram chats",
          description:
            "202: accepted, durably; the bot sends it to each of the user's active, unblocked linked chats, within Telegram's limits and in acceptance order per chat. No such chat: status `undeliverable`. Optional: `format` (text or html, checked: 422 `invalid_html` names the first problem and its offset), `buttons`, `silent`, `protect_content`, `link_preview`, `split` (up to 32768, sent as parts), `category` and `priority` (weighed against the user's preferences when each delivery comes due), `send_at` (status `scheduled` until then), `expires_at` (unsent by then: `failed`, `expired`), `translations` (ru, es: each chat gets its language's). Lengths count UTF-16 units of the visible text, as Telegram does. With `idempotency_key`, a retry with the same body (every field) answers 200 and the same notification (nothing is sent twice); another body under that key is a 409. Follow it with GET /api/telegram/notifications/{id}.",
        },
      },
    )
    .get(
      "/notifications/:id",
      ({ params, principal }) => getNotification(deps.db, params.id, principal, deps.now()),
      {
        auth: "telegram:notify",
        params: NotificationIdParams,
        response: {
          200: NotificationView,
          403: answers("The API key lacks 'telegram:notify', or the JWT is not an admin's"),
          404: answers("No such notification among the caller's (notification_not_found)"),
        },
        detail: {
          summary: "A notification and each delivery's status",
          description:
            "Status: `scheduled` before `send_at`, `queued` while any delivery is, then `sent`, `partial`, `failed` or `skipped` (every delivery skipped by the user's preferences). Deliveries go `queued` → `sent`, or `failed` with `error`: `blocked` (the user blocked the bot; the chat is marked blocked), `chat_not_found`, `rejected`, `expired`; or `skipped` with `muted`. `language`: the version each went in. A sender sees its own notifications; an admin sees all.",
        },
      },
    )
    .post(
      "/deliveries/lease",
      async ({ body, request, server }) => {
        const waitMs = (body.wait_seconds ?? 0) * 1000
        // Bun closes a connection idle for longer than Elysia's 30 s: give this one its time.
        server?.timeout(request, Math.ceil(waitMs / 1000) + 15)
        const deadline = performance.now() + waitMs
        // Listening before the first look: a notification committed after it wakes this lease.
        if (waitMs > 0) await wakeup.ready()
        for (;;) {
          const generation = wakeup.generation
          const lease = await leaseDeliveries(
            deps.db,
            { max: body.max ?? DEFAULT_MAX, leaseMs },
            deps.now(),
          )
          const left = deadline - performance.now()
          if (lease.deliveries.length || left <= 0) return lease
          const due = await nextDueInMs(deps.db, deps.now())
          await wakeup.wait(generation, Math.min(left, due ?? left, recheckMs), request.signal)
          // The bot gave up (stopping): lease nothing it would never hear of. This server is
          // stopping: answer the empty lease now, so the stop need not wait out the long poll.
          if (request.signal.aborted || wakeup.stopping) return { ...lease, deliveries: [] }
        }
      },
      {
        auth: "telegram:service",
        body: LeaseRequest,
        response: { 200: Lease },
        detail: {
          summary: "Lease due deliveries to send (the bot's long poll)",
          description: `At most one per chat, each its chat's oldest queued delivery, so one chat's messages go out in acceptance order however many bot processes lease. Send each delivery's \`messages\` in order (plus chat_id), nothing else to that chat in between. The user's preferences are applied here: a delivery for a category switched off, or muted (normal priority), ends \`skipped\`; one in quiet hours (normal priority) waits until they end; expired ones end \`failed\`. When none is due, waits up to \`wait_seconds\` for one (woken by new notifications and settled deliveries). Report each with POST /api/telegram/deliveries/report before \`lease_expires_at\`; after it, unreported deliveries are leased again.`,
        },
      },
    )
    .post(
      "/deliveries/report",
      async ({ body }) => {
        const result = await reportDeliveries(
          deps.db,
          body.results.map((r) => ({
            id: r.id,
            leaseId: r.lease_id,
            outcome: r.outcome,
            retryAfterSeconds: r.retry_after_seconds,
            error: r.error,
            chatId: r.chat_id,
            partsSent: r.parts_sent,
          })),
          deps.now(),
        )
        if (result.applied) wakeup.wake()
        return result
      },
      {
        auth: "telegram:service",
        body: ReportRequest,
        response: { 200: ReportResult },
        detail: {
          summary: "Report what became of leased deliveries",
          description:
            "`sent`; `retry` after `retry_after_seconds` (Telegram's retry_after, a backoff, or 0 to hand a delivery back), with `parts_sent` when some of its messages were accepted (the next lease hands only the rest); `failed` with `error`: `blocked` also marks the chat blocked, and `blocked` or `chat_not_found` fails the chat's other queued deliveries. Results for a lease that expired (the delivery was leased again) are ignored and counted as `stale`.",
        },
      },
    )
}
