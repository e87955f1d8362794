import { Elysia, t } from "elysia"
import { authPlugin } from "../../auth"
import type { Deps } from "../../context"
import { ADMIN_ONLY_SCOPES } from "../../credentials"
import { answers } from "../../docs"
import { forbidden } from "../../errors"
import { CreatedKey, CreateKeyBody, KeyIdParams, KeySummary, RevokedKey } from "./model"
import { createKey, listKeys, revokeKey } from "./service"

export const keyRoutes = (deps: Deps) =>
  new Elysia({ prefix: "/auth/api-keys", tags: ["api keys"] })
    .use(authPlugin(deps))
    .post(
      "",
      ({ body, principal }) => {
        const privileged = body.scopes?.find((s) => ADMIN_ONLY_SCOPES.includes(s))
        if (privileged && principal.role !== "admin")
          throw forbidden(`Only admins may create keys with the '${privileged}' scope`)
        return createKey(
          deps.db,
          {
            userId: principal.userId,
            name: body.name,
            scopes: body.scopes,
            expiresDays: body.expires_days,
          },
          deps.now(),
        )
      },
      {
        auth: "jwt",
        body: CreateKeyBody,
        response: {
          200: CreatedKey,
          403: answers(
            "An API key was sent instead of a JWT, or a non-admin asked for 'telegram:service' or 'telegram:notify'",
          ),
        },
        detail: { summary: "Create an API key (the raw key is returned only here)" },
      },
    )
    .get("", ({ principal }) => listKeys(deps.db, principal.userId), {
      auth: "jwt",
      response: { 200: t.Array(KeySummary) },
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
        response: { 200: RevokedKey, 404: answers("No such key among the caller's") },
        detail: { summary: "Revoke one of the caller's keys" },
      },
    )
