// Accepting one notification, as POST /notifications does it: shared by the single endpoint and
// each item of a batch, so both answer alike (idempotency included).
import type { Static } from "elysia"
import type { Principal } from "../../auth"
import type { Deps } from "../../context"
import { ApiError } from "../../errors"
import type { AcceptedNotification } from "./model"
import type { NotificationRequest } from "./request"
import { createNotification } from "./service"

export interface AcceptResult {
  status: 200 | 202
  created: boolean
  notification: Static<typeof AcceptedNotification>
}

/** Exactly one of username and user_id, or the 422 the single POST answers. */
export function checkRecipient(body: {
  username?: string | undefined
  user_id?: string | undefined
}) {
  if ((body.username === undefined) === (body.user_id === undefined))
    throw new ApiError(
      422,
      "validation_error",
      "Invalid body: give exactly one of username and user_id",
    )
}

/** A body that passed the NotificationRequest schema → 202 (new) or 200 (an idempotent replay). */
export async function acceptNotification(
  deps: Deps,
  body: Static<typeof NotificationRequest>,
  principal: Principal,
): Promise<AcceptResult> {
  checkRecipient(body)
  const { created, notification } = await createNotification(
    deps.db,
    {
      username: body.username,
      userId: body.user_id,
      text: body.text,
      idempotencyKey: body.idempotency_key,
      options: body,
    },
    principal,
    deps.now(),
  )
  return { status: created ? 202 : 200, created, notification }
}
