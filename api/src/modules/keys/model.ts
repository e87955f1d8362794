import { t } from "elysia"
import { SCOPES } from "../../credentials"
import { Text } from "../../model"

export const ScopeSchema = t.Union(SCOPES.map((scope) => t.Literal(scope)))

export const CreateKeyBody = t.Object({
  name: Text({ minLength: 1, maxLength: 100 }),
  scopes: t.Optional(t.Array(ScopeSchema, { uniqueItems: true, maxItems: SCOPES.length })),
  expires_days: t.Optional(t.Integer({ minimum: 1, maximum: 3650 })),
})

export const CreatedKey = t.Object({
  id: t.String(),
  key: t.String({ description: "The raw key: shown only in this response" }),
  prefix: t.String(),
  scopes: t.Array(t.String()),
})

export const KeySummary = t.Object({
  id: t.String(),
  name: t.String(),
  prefix: t.String(),
  scopes: t.Array(t.String()),
  is_active: t.Boolean(),
  created_at: t.String(),
  last_used_at: t.Nullable(t.String()),
  expires_at: t.Nullable(t.String()),
})

export const KeyIdParams = t.Object({ id: Text({ format: "uuid" }) })

export const RevokedKey = t.Object({ id: t.String(), is_active: t.Literal(false) })
