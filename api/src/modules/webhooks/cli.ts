// `bun run admin list-webhooks`: a sender's endpoints and their health, for operators.
import type { Db } from "@nps/db"
import { findUser } from "../auth/service"
import { listEndpoints } from "./service"

export async function listWebhooksFromCli(
  db: () => Promise<Db>,
  username: string,
  usageError: (message: string) => Error,
) {
  const handle = await db()
  const user = await findUser(handle, username)
  if (!user) throw usageError(`no user named ${username}`)
  const endpoints = await listEndpoints(handle, user.id)
  const when = (at: string | null) => at?.slice(0, 19).replace("T", " ") ?? "never"
  return {
    json: { endpoints },
    text: endpoints.length
      ? endpoints
          .map((e) =>
            [
              `${e.id}  ${e.url}${e.description ? `  (${e.description})` : ""}`,
              `  last success: ${when(e.last_success_at)}; last failure: ${when(e.last_failure_at)}${e.last_error ? ` (${e.last_error})` : ""}`,
            ].join("\n"),
          )
          .join("\n")
      : `${username} has no webhook endpoints`,
  }
}
