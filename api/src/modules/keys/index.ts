import { Elysia, t } from "elysia"
import { authPlugin } from "../../auth"
import type { Deps } from "../../context"
import { forbidden } from "../../errors"
import { errorResponses } from "../../model"
import { CreatedKey, CreateKeyBody, KeyIdParams, KeySummary, RevokedKey } from "./model"
import { createKey, listKeys, revokeKey } from "./service"

export const keyRoutes = (deps: Deps) =>
  new Elysia({ prefix: "/auth/api-keys", tags: ["api keys"] })
    .use(authPlugin(deps))
    .post(
      "",
      async ({ body, principal }) => {
        // The service scope reads any chat's data: only admins may mint it.
        if (body.scopes?.includes("telegram:service") && principal.role !== "admin")
          throw forbidden("Only admins may create keys with the 'telegram:service' scope")
        const key = await createKey(
          deps.db,
          {
            userId: principal.userId,
            name: body.name,
            scopes: body.scopes,
            expiresDays: body.expires_days,
          },
          deps.now(),
        )
        // The user's next step is linking: point them at the bot (the key never goes in a URL).
        const bot = deps.config.botUsername
        return bot ? { ...key, telegram_deep_link: `https://t.me/${bot}?start=link` } : key
      },
      {
        auth: "jwt",
        body: CreateKeyBody,
        response: { 200: CreatedKey, ...errorResponses },
        detail: { summary: "Create an API key (the raw key is returned only here)" },
      },
    )
    .get("", ({ principal }) => listKeys(deps.db, principal.userId), {
      auth: "jwt",
      response: { 200: t.Array(KeySummary), ...errorResponses },
      detail: { summary: "The caller's keys (never the raw key or its hash)" },
    })
    .delete(
      "/:id",
      async ({ params, principal }) => {
        const revoked = await revokeKey(deps.db, params.id, principal.userId)
        deps.keys.forget(revoked.id)
        return revoked
      },
      {
        auth: "jwt",
        params: KeyIdParams,
        response: { 200: RevokedKey, ...errorResponses },
        detail: { summary: "Revoke one of the caller's keys" },
      },
    )
