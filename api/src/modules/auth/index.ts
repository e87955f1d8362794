import { Elysia } from "elysia"
import { authPlugin } from "../../auth"
import type { Deps, Limits } from "../../context"
import { answers } from "../../docs"
import { tooManyRequests } from "../../errors"
import { clientAddress } from "../../rate-limit"
import { LoginBody, MeResponse, TokenResponse } from "./model"
import { login } from "./service"

export const authRoutes = (deps: Deps, limits: Limits) => {
  const loginLimiter = deps.limiter("login", limits.login)
  return new Elysia({ prefix: "/auth", tags: ["auth"] })
    .use(authPlugin(deps))
    .post(
      "/login",
      async ({ body, request, server }) => {
        const verdict = await loginLimiter.hit(clientAddress(request, server))
        if (!verdict.ok) throw tooManyRequests(verdict.retryAfterSeconds)
        return login(deps, body.username, body.password)
      },
      {
        body: LoginBody,
        response: {
          200: TokenResponse,
          401: answers("Wrong username or password, or the user is deactivated"),
          429: answers("Over the login attempts allowed per address a minute; see Retry-After"),
        },
        detail: {
          summary: "Exchange a username and password for a JWT",
          description: "Credential: none (the username and password in the body).",
        },
      },
    )
    .get(
      "/me",
      ({ principal: p }) => ({
        id: p.userId,
        username: p.username,
        role: p.role,
        is_active: p.isActive,
      }),
      {
        auth: "any",
        response: { 200: MeResponse },
        detail: { summary: "Who the credentials belong to" },
      },
    )
}
