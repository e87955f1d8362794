// `bun run admin notify`: the command's logic, apart from the CLI's argument parsing.
import type { Db } from "@nps/db"
import { Value } from "@sinclair/typebox/value"
import { NotificationRequest } from "./model"
import { createNotification } from "./service"

/**
 * Sends a notification as an operator (no sender: created_by is null). The input is checked with
 * the same schema the API uses, so the CLI accepts exactly what POST would.
 */
export async function notifyFromCli(
  db: () => Promise<Db>,
  input: { username: string; text: string },
  usageError: (message: string) => Error,
) {
  const problem = Value.Errors(NotificationRequest, input).First()
  if (problem) {
    const field = problem.path.replace(/^\//, "")
    throw usageError(
      field === "text"
        ? "--text must be 1–4096 characters, not only whitespace, without NUL"
        : `--${field} is invalid`,
    )
  }
  const { notification } = await createNotification(await db(), input, null, new Date())
  const chats = notification.deliveries.length
  return {
    json: notification,
    text:
      notification.status === "undeliverable"
        ? `notification ${notification.id}: undeliverable — ${input.username} has no active, unblocked Telegram chat`
        : `notification ${notification.id} queued for ${chats} chat${chats === 1 ? "" : "s"}; follow it with GET /api/telegram/notifications/${notification.id} (with an admin's JWT or telegram:notify key: it has no sender)`,
  }
}
