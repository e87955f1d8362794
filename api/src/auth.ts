import { users } from "@nps/db"
import { and, eq } from "drizzle-orm"
import { Elysia } from "elysia"
import type { Deps } from "./context"
import { looksLikeApiKey, type Scope } from "./credentials"
import { forbidden, unauthorized } from "./errors"

export interface Principal {
  userId: string
  username: string
  role: string
  isActive: boolean
  via: "jwt" | "key"
  scopes: readonly string[]
}

// A signed-in user acts for themselves on Oracle data; only a key can carry telegram:service.
// An admin signed in may also send notifications (an operator's manual message).
const JWT_SCOPES: readonly Scope[] = ["oracle:read", "oracle:write"]
const ADMIN_JWT_SCOPES: readonly Scope[] = ["telegram:notify"]
const bearer = (header: string | undefined) => {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i)
  return match?.[1]
}

async function fromApiKey({ keys, now }: Deps, rawKey: string): Promise<Principal | null> {
  const key = await keys.verify(rawKey, now())
  if (!key) return null
  const { userId, username, role, scopes } = key
  return { userId, username, role, isActive: true, via: "key", scopes }
}

async function fromJwt({ db, jwt }: Deps, token: string): Promise<Principal | null> {
  const userId = await jwt.verify(token)
  if (!userId) return null
  const [user] = await db
    .select({ username: users.username, role: users.role })
    .from(users)
    .where(and(eq(users.id, userId), eq(users.isActive, true)))
    .limit(1)
  if (!user) return null
  const scopes = user.role === "admin" ? [...JWT_SCOPES, ...ADMIN_JWT_SCOPES] : JWT_SCOPES
  return { userId, ...user, isActive: true, via: "jwt", scopes }
}

/** The caller behind an Authorization header, or null when there is none or it is not valid. */
export async function authenticate(
  deps: Deps,
  header: string | undefined,
): Promise<Principal | null> {
  const token = bearer(header)
  if (!token) return null
  return looksLikeApiKey(token) ? fromApiKey(deps, token) : fromJwt(deps, token)
}

/**
 * `auth: "any"` — a JWT or an API key; `auth: "jwt"` — a signed-in user only;
 * `auth: <scope>` — a JWT or key holding that scope. The route receives `principal`.
 */
export type AuthRequirement = "any" | "jwt" | Scope

/** How the docs state a requirement: security schemes of docs.ts, and a sentence. */
function documented(requirement: AuthRequirement): {
  security: Record<string, string[]>[]
  description: string
} {
  if (requirement === "any")
    return {
      security: [{ jwt: [] }, { apiKey: [] }],
      description: "Credential: a JWT or an API key (any scope).",
    }
  if (requirement === "jwt")
    return {
      security: [{ jwt: [] }],
      description: "Credential: a signed-in user's JWT; API keys are refused (403).",
    }
  if (ADMIN_JWT_SCOPES.includes(requirement))
    return {
      security: [{ jwt: [] }, { apiKey: [requirement] }],
      description: `Credential: an API key with the \`${requirement}\` scope, or an admin's JWT.`,
    }
  return JWT_SCOPES.includes(requirement)
    ? {
        security: [{ jwt: [] }, { apiKey: [requirement] }],
        description: `Credential: a JWT, or an API key with the \`${requirement}\` scope.`,
      }
    : {
        security: [{ apiKey: [requirement] }],
        description: `Credential: an API key with the \`${requirement}\` scope.`,
      }
}

export const authPlugin = (deps: Deps) => {
  // Checked in `transform`, which runs before schema validation, so a caller without valid
  // credentials gets 401/403 and never learns what the body should look like; `resolve` (after
  // validation) hands the principal found there to the route.
  const principals = new WeakMap<Request, Principal>()
  return new Elysia().macro({
    auth: (requirement: AuthRequirement) => ({
      // Not `detail`: a macro's detail replaces the route's own description. The credential
      // sentence goes first and the route's notes follow it.
      introspect(option) {
        const hook = option as { detail?: { description?: string; security?: unknown } }
        const { security, description } = documented(requirement)
        hook.detail = {
          ...hook.detail,
          security,
          description: [description, hook.detail?.description].filter(Boolean).join(" "),
        }
      },
      async transform({ request }) {
        const header = request.headers.get("authorization") ?? undefined
        const principal = await authenticate(deps, header)
        if (!principal)
          throw unauthorized(
            header ? "Invalid or expired credentials" : "Missing bearer credentials",
          )
        if (requirement === "jwt" && principal.via !== "jwt")
          throw forbidden("This endpoint needs a signed-in user (JWT), not an API key")
        if (
          requirement !== "any" &&
          requirement !== "jwt" &&
          !principal.scopes.includes(requirement)
        )
          throw forbidden(`This credential lacks the '${requirement}' scope`)
        principals.set(request, principal)
      },
      resolve({ request }) {
        const principal = principals.get(request)
        if (!principal) throw unauthorized()
        return { principal }
      },
    }),
  })
}
