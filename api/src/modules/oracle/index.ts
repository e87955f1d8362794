import { Elysia, t } from "elysia"
import { authPlugin } from "../../auth"
import type { Deps } from "../../context"
import { CreateProfileBody, Profile } from "./model"
import { createProfile, listProfiles } from "./service"

export const oracleRoutes = (deps: Deps) =>
  new Elysia({ prefix: "/oracle", tags: ["oracle"] })
    .use(authPlugin(deps))
    .get("/profiles", ({ principal }) => listProfiles(deps.db, principal.userId), {
      auth: "oracle:read",
      response: { 200: t.Array(Profile) },
      detail: { summary: "The caller's Oracle profiles" },
    })
    .post("/profiles", ({ body, principal }) => createProfile(deps.db, principal.userId, body), {
      auth: "oracle:write",
      body: CreateProfileBody,
      response: { 200: Profile },
      detail: { summary: "Create an Oracle profile" },
    })
