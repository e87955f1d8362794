import { t } from "elysia"
import { Text } from "../../model"

export const LoginBody = t.Object({
  username: Text({ minLength: 1, maxLength: 100 }),
  password: Text({ minLength: 1, maxLength: 1024 }),
})

export const TokenResponse = t.Object({
  access_token: t.String(),
  token_type: t.Literal("bearer"),
  expires_in: t.Integer(),
})

export const Role = t.Union([t.Literal("user"), t.Literal("admin")])

export const MeResponse = t.Object({
  id: t.String(),
  username: t.String(),
  role: t.String(),
  is_active: t.Boolean(),
})
