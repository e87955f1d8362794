// The API's documentation: the OpenAPI document at /swagger/json and Swagger UI at /swagger,
// its script and stylesheet served from the installed swagger-ui-dist (no CDN: the page works
// offline). The error statuses of each operation are derived here, in one place, from what
// the route declares: its credential (the auth macro's `security`), its body and its path
// parameters; a route adds only the statuses its own logic answers (404, 409, 429…).
import { openapi } from "@elysiajs/openapi"
import type { AdditionalReference } from "@elysiajs/openapi/types"
import { Elysia, type TSchema, t } from "elysia"
import { ApiError } from "./errors"
import { MAX_BODY_BYTES, MAX_HEADER_BYTES } from "./transport"

const ASSETS = {
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "swagger-ui.css": "text/css; charset=utf-8",
} as const
const assetPath = (name: keyof typeof ASSETS) =>
  Bun.fileURLToPath(import.meta.resolve(`swagger-ui-dist/${name}`))

/** An error status with why it is answered: for a route's `response` map, and derived ones. */
export const answers = (description: string) =>
  t.Object({ error: t.String(), message: t.String() }, { description })

type Security = Record<string, string[]>[]
interface RouteLike {
  method: string
  path: string
  hooks: {
    body?: unknown
    params?: unknown
    query?: unknown
    detail?: { security?: Security; hide?: boolean }
  }
}

/** The statuses every route answers because of its shape, with why. */
export function derivedErrors(route: RouteLike): Record<number, string> {
  const errors: Record<number, string> = {}
  const { hooks } = route
  const security = hooks.detail?.security
  if (security?.length) {
    errors[401] = "No credentials, or invalid, expired or revoked ones"
    const keyScopes = security.flatMap((s) => s.apiKey ?? [])
    const jwtAllowed = security.some((s) => "jwt" in s)
    const keyAllowed = security.some((s) => "apiKey" in s)
    if (!keyAllowed) errors[403] = "An API key was sent; this needs a signed-in user's JWT"
    else if (keyScopes.length) {
      errors[403] = jwtAllowed
        ? `The API key lacks the '${keyScopes.join("', '")}' scope`
        : `The credential is not an API key with the '${keyScopes.join("', '")}' scope`
    }
  }
  // A route that takes no body still refuses a malformed one (body-checks.ts).
  const takesBody = hooks.body || ["POST", "PUT", "PATCH"].includes(route.method)
  if (takesBody) {
    errors[400] = "The body is not valid JSON"
    errors[411] = "A body sent without Content-Length (chunked)"
    errors[413] = `The body is over ${MAX_BODY_BYTES} bytes`
  }
  if (takesBody || hooks.params || hooks.query)
    errors[422] = "A field fails the schema (the message names it)"
  // Every /api route reads or writes the database.
  if (route.path.startsWith("/api/")) errors[503] = "The database is unavailable; retry shortly"
  return errors
}

function references(routes: () => readonly RouteLike[]) {
  const byPath: Record<string, Record<string, { response: Record<number, TSchema> }>> = {}
  for (const route of routes()) {
    if (route.hooks.detail?.hide) continue
    const response = Object.fromEntries(
      Object.entries(derivedErrors(route)).map(([status, why]) => [status, answers(why)]),
    )
    byPath[route.path] ??= {}
    // biome-ignore lint/style/noNonNullAssertion: assigned just above
    byPath[route.path]![route.method.toLowerCase()] = { response }
  }
  // The type asks for every schema of an entry; the plugin reads only the ones present and
  // adds a status only where the route did not declare it.
  return byPath as unknown as AdditionalReference
}

export const docs = (routes: () => readonly RouteLike[]) =>
  new Elysia({ name: "docs" })
    .use(
      openapi({
        path: "/swagger",
        specPath: "/swagger/json",
        provider: "swagger-ui",
        swagger: {
          cdn: "/swagger/assets/swagger-ui-bundle.js",
          theme: "/swagger/assets/swagger-ui.css",
          autoDarkMode: false,
          deepLinking: true,
          // Swagger UI would otherwise show a badge fetched from validator.swagger.io, sending
          // the document's URL to a third party (and failing offline or on localhost).
          validatorUrl: "none",
        },
        references: () => references(routes),
        documentation: {
          info: {
            title: "NPS API",
            version: "1.0.0",
            // Plain words only: the plugin puts this unescaped into a <meta> attribute.
            description: [
              "Users, API keys, Oracle profiles and Telegram links.",
              "",
              "Every error is a JSON object with `error` (a stable code) and `message` (a sentence).",
              "Besides the statuses listed per operation, any request may get 404 (no such endpoint)",
              `or 431 (headers over ${MAX_HEADER_BYTES} bytes). Authenticate with the header`,
              "`Authorization: Bearer` and a JWT from `POST /api/auth/login` or an API key (`nps_…`).",
              "Scopes: `telegram:service` (the bot), `telegram:notify` (services that send",
              "notifications), `oracle:read`, `oracle:write`.",
            ].join("\n"),
          },
          components: {
            securitySchemes: {
              jwt: {
                type: "http",
                scheme: "bearer",
                bearerFormat: "JWT",
                description: "A signed-in user's JWT from POST /api/auth/login",
              },
              apiKey: {
                type: "http",
                scheme: "bearer",
                description: "An nps_… API key; the scopes listed are the ones the key must hold",
              },
            },
          },
        },
      }),
    )
    .get(
      "/swagger/assets/:file",
      ({ params, set }) => {
        const type = ASSETS[params.file as keyof typeof ASSETS]
        if (!type) throw new ApiError(404, "not_found", "No such endpoint")
        set.headers["content-type"] = type
        set.headers["cache-control"] = "public, max-age=86400"
        return Bun.file(assetPath(params.file as keyof typeof ASSETS))
      },
      { detail: { hide: true } },
    )
