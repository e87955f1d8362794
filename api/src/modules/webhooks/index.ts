// Status-webhook endpoints: a sender registers where its notification.finished events go.
import { Elysia, t } from "elysia"
import { authPlugin } from "../../auth"
import type { Deps } from "../../context"
import { answers } from "../../docs"
import { CreatedEndpoint, EndpointIdParams, EndpointRequest, EndpointView } from "./model"
import { createEndpoint, deleteEndpoint, listEndpoints } from "./service"
import type { UrlPolicy } from "./ssrf"

const NOT_A_SENDER = answers("The API key lacks 'telegram:notify', or the JWT is not an admin's")

export const webhookRoutes = (deps: Deps, policy: UrlPolicy) =>
  new Elysia({ prefix: "/telegram", tags: ["status webhooks"] })
    .use(authPlugin(deps))
    .post(
      "/webhook-endpoints",
      async ({ body, principal, set }) => {
        const created = await createEndpoint(deps.db, policy, principal.userId, body)
        set.status = 201
        return created
      },
      {
        auth: "telegram:notify",
        body: EndpointRequest,
        response: {
          201: CreatedEndpoint,
          403: NOT_A_SENDER,
          409: answers("The sender already has 10 endpoints (too_many_endpoints)"),
          422: answers(
            "Invalid body, or the URL is not https:// or resolves to a loopback, private, link-local or metadata address (url_not_allowed)",
          ),
        },
        detail: {
          summary: "Register a status-webhook endpoint",
          description:
            'When one of your notifications reaches a final status (sent, partial, failed, skipped, undeliverable), each of your endpoints gets a POST `{type: "notification.finished", timestamp, data: <GET /notifications/{id} body>}` signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`). The `secret` is shown only in this answer. Non-2xx answers are retried after about 5 s, 5 min, 30 min, 2 h, 5 h and 10 h; redirects are not followed.',
        },
      },
    )
    .get("/webhook-endpoints", ({ principal }) => listEndpoints(deps.db, principal.userId), {
      auth: "telegram:notify",
      response: { 200: t.Array(EndpointView), 403: NOT_A_SENDER },
      detail: {
        summary: "Your status-webhook endpoints and their health",
        description:
          "Each with `last_success_at`, `last_failure_at` and `last_error`; never the secret.",
      },
    })
    .delete(
      "/webhook-endpoints/:id",
      async ({ params, principal }) => {
        await deleteEndpoint(deps.db, principal.userId, params.id)
        return { id: params.id, deleted: true as const }
      },
      {
        auth: "telegram:notify",
        params: EndpointIdParams,
        response: {
          200: t.Object({ id: t.String(), deleted: t.Literal(true) }),
          403: NOT_A_SENDER,
          404: answers("No such endpoint among yours (endpoint_not_found)"),
        },
        detail: {
          summary: "Remove one of your status-webhook endpoints",
          description: "Its undelivered events are dropped with it.",
        },
      },
    )
