// POST /notifications/batch: up to 1,000 notifications in one request, each checked by the single
// POST's own schema and rules, then all accepted set-based in one transaction (accept-many.ts), so
// every item answers exactly as it would alone (a key repeated inside the batch replays like a
// retry would) at a few statements per batch.
import { Elysia, getSchemaValidator, type Static, t } from "elysia"
import { authPlugin, type Principal } from "../../auth"
import type { Deps } from "../../context"
import { answers } from "../../docs"
import { ApiError, toErrorReply } from "../../errors"
import { checkRecipient } from "./accept"
import { createNotifications, type ManyItem } from "./accept-many"
import { prepareNotification } from "./prepare"
import { NotificationRequest } from "./request"
import type { Wakeup } from "./wakeup"

export const MAX_BATCH = 1000
/** A full batch of long texts is far beyond the 64 KiB of other requests. */
export const MAX_BATCH_BODY_BYTES = 16 * 1024 * 1024
export const BATCH_PATH = "/api/telegram/notifications/batch"

const ItemResult = t.Object({
  status: t.Integer({ description: "What the single POST would have answered: 202, 200 or 4xx" }),
  id: t.Optional(t.String()),
  error: t.Optional(t.String()),
  message: t.Optional(t.String()),
})

type ItemResult = Static<typeof ItemResult>
type Request = Static<typeof NotificationRequest>

// The validator Elysia builds for the single route's body (same schema, same default options):
// it cleans a value the same way first (a non-object item reads as {}), so the first error, and
// with it the 422 message, is the one the single POST would give.
const validator = getSchemaValidator(NotificationRequest, { normalize: true })

/** The item as the single route's body validation leaves it, or its 422. */
function validate(item: unknown): { body: Request } | { reply: ItemResult } {
  let value = item
  try {
    value = validator?.Clean ? validator.Clean(structuredClone(item)) : item
  } catch {
    // null cannot be cleaned; the single route reads a null body as an empty one
    value = validator?.Clean ? validator.Clean({}) : {}
  }
  if (validator?.Check(value)) return { body: value as Request }
  const all = validator ? [...validator.Errors(value)] : []
  const reply = toErrorReply("VALIDATION", { type: "body", all })
  return { reply: { status: reply.status, ...reply.body } }
}

/** The item checked as the single POST checks it before the database: ready, or its 4xx. */
function check(item: unknown, now: Date): ManyItem | ItemResult {
  const checked = validate(item)
  if ("reply" in checked) return checked.reply
  const body = checked.body
  try {
    checkRecipient(body)
    return {
      username: body.username,
      userId: body.user_id,
      text: body.text,
      idempotencyKey: body.idempotency_key,
      prepared: prepareNotification(body.text, body, now),
    }
  } catch (error) {
    if (error instanceof ApiError && error.status < 500) return failed(error)
    throw error
  }
}

const failed = (error: ApiError): ItemResult => ({
  status: error.status,
  error: error.code,
  message: error.message,
})

/** Every item, as the single POSTs would answer them in turn, accepted in one transaction. */
async function acceptAll(deps: Deps, items: unknown[], principal: Principal) {
  const now = deps.now()
  const checked = items.map((item) => check(item, now))
  const ready = checked.filter((c): c is ManyItem => "prepared" in c)
  const accepted = ready.length ? await createNotifications(deps.db, ready, principal, now) : []
  let next = 0
  const results = checked.map((c): ItemResult => {
    if (!("prepared" in c)) return c
    const result = accepted[next++]
    if (!result) throw new Error("a batch item without a result")
    return "error" in result ? failed(result.error) : result
  })
  return { results, created: accepted.some((r) => "status" in r && r.status === 202) }
}

export const batchRoutes = (deps: Deps, wakeup: Wakeup) =>
  new Elysia({ prefix: "/telegram", tags: ["notifications"] }).use(authPlugin(deps)).post(
    "/notifications/batch",
    async ({ body, principal }) => {
      const { results, created } = await acceptAll(deps, body.notifications, principal)
      if (created) wakeup.wake()
      return { results }
    },
    {
      auth: "telegram:notify",
      body: t.Object({
        notifications: t.Array(t.Unknown({ description: "The body of a single POST" }), {
          minItems: 1,
          maxItems: MAX_BATCH,
        }),
      }),
      response: {
        200: t.Object({ results: t.Array(ItemResult) }),
        403: answers("The API key lacks 'telegram:notify', or the JWT is not an admin's"),
        413: answers(`The body is over ${MAX_BATCH_BODY_BYTES} bytes`),
      },
      detail: {
        summary: "Send up to 1,000 notifications at once",
        description: `Each item is exactly the body of POST /api/telegram/notifications and is accepted or refused on its own: \`results\` holds, in the items' order, \`{status, id}\` (202 accepted, 200 an idempotent replay) or \`{status, error, message}\` (the 4xx the single POST would answer). An idempotency key repeated within the batch behaves as a retry. A malformed envelope, no items or more than ${MAX_BATCH} is a 400/422 for the whole request.`,
      },
    },
  )
