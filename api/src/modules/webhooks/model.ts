import { t } from "elysia"
import { Text } from "../../model"

export const MAX_ENDPOINTS_PER_SENDER = 10

export const EndpointRequest = t.Object({
  url: Text({
    minLength: 1,
    maxLength: 2048,
    description: "https:// URL that receives a signed POST when one of your notifications finishes",
  }),
  description: t.Optional(Text({ maxLength: 200, description: "Your own note about it" })),
})

export const CreatedEndpoint = t.Object({
  id: t.String(),
  url: t.String(),
  description: t.Nullable(t.String()),
  secret: t.String({
    description:
      "whsec_ + base64: the Standard Webhooks signing secret, shown only here. Keep it to verify signatures",
  }),
})

export const EndpointView = t.Object({
  id: t.String(),
  url: t.String(),
  description: t.Nullable(t.String()),
  created_at: t.String(),
  last_success_at: t.Nullable(t.String()),
  last_failure_at: t.Nullable(t.String()),
  last_error: t.Nullable(t.String({ description: "Why the last failed attempt failed" })),
})

export const EndpointIdParams = t.Object({ id: Text({ format: "uuid" }) })
