import { Elysia, t } from "elysia"
import { authPlugin } from "../../auth"
import type { Deps } from "../../context"
import { ApiError } from "../../errors"
import { errorResponses } from "../../model"
import { CreateProfileBody, Profile } from "./model"
import { createProfile, listProfiles } from "./service"

// TypeBox's "date" format checks the shape; this rejects 2024-02-30 and friends.
const isRealDate = (s: string) => {
  const d = new Date(`${s}T00:00:00Z`)
  return !Number.isNaN(d.getTime()) && d.toISOString().startsWith(s)
}

export const oracleRoutes = (deps: Deps) =>
  new Elysia({ prefix: "/oracle", tags: ["oracle"] })
    .use(authPlugin(deps))
    .get("/profiles", ({ principal }) => listProfiles(deps.db, principal.userId), {
      auth: "oracle:read",
      response: { 200: t.Array(Profile), ...errorResponses },
      detail: { summary: "The caller's Oracle profiles" },
    })
    .post(
      "/profiles",
      ({ body, principal }) => {
        if (!isRealDate(body.birthday))
          throw new ApiError(422, "validation_error", "Invalid birthday: not a calendar date")
        return createProfile(deps.db, principal.userId, body)
      },
      {
        auth: "oracle:write",
        body: CreateProfileBody,
        response: { 200: Profile, ...errorResponses },
        detail: { summary: "Create an Oracle profile" },
      },
    )
