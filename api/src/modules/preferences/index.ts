import { Elysia } from "elysia"
import { authPlugin } from "../../auth"
import type { Deps } from "../../context"
import { answers } from "../../docs"
import { ChatIdParams } from "../../model"
import { LanguageCodeRequest, LanguageCodeResult, Preferences, PreferencesUpdate } from "./model"
import {
  chatUser,
  getPreferences,
  type PreferencesChange,
  setChatLanguageCode,
  updatePreferences,
} from "./service"

const badChange = answers(
  "A field fails the schema, quiet_hours start equals end (validation_error), or the time zone is unknown (invalid_time_zone)",
)
const notLinked = answers("The chat is not linked (not_linked)")
const preferencesDoc =
  "`muted_until`, `time_zone`, `quiet_hours`, `categories` and `language`: applied when each delivery comes due, so a change also applies to notifications already queued."

export const preferenceRoutes = (deps: Deps) =>
  new Elysia({ prefix: "/telegram", tags: ["preferences"] })
    .use(authPlugin(deps))
    .get("/preferences", ({ principal }) => getPreferences(deps.db, principal.userId), {
      auth: "any",
      response: { 200: Preferences },
      detail: { summary: "The caller's notification preferences", description: preferencesDoc },
    })
    .put(
      "/preferences",
      ({ principal, body }) =>
        updatePreferences(deps.db, principal.userId, body as PreferencesChange, deps.now()),
      {
        auth: "any",
        body: PreferencesUpdate,
        response: { 200: Preferences, 422: badChange },
        detail: {
          summary: "Change the caller's notification preferences",
          description: `Only the fields present change; \`null\` clears one. Answers the result. ${preferencesDoc}`,
        },
      },
    )
    .get(
      "/chats/:chat_id/preferences",
      async ({ params }) => getPreferences(deps.db, await chatUser(deps.db, params.chat_id)),
      {
        auth: "telegram:service",
        params: ChatIdParams,
        response: { 200: Preferences, 404: notLinked },
        detail: {
          summary: "Preferences of the user a chat is linked to (the bot's /settings)",
          description: `404 \`not_linked\` when the chat is not linked. ${preferencesDoc}`,
        },
      },
    )
    .put(
      "/chats/:chat_id/preferences",
      async ({ params, body }) =>
        updatePreferences(
          deps.db,
          await chatUser(deps.db, params.chat_id),
          body as PreferencesChange,
          deps.now(),
        ),
      {
        auth: "telegram:service",
        params: ChatIdParams,
        body: PreferencesUpdate,
        response: { 200: Preferences, 404: notLinked, 422: badChange },
        detail: {
          summary: "Change the preferences of the user a chat is linked to (the bot's buttons)",
          description: `Only the fields present change; \`null\` clears one. 404 \`not_linked\` when the chat is not linked.`,
        },
      },
    )
    .put(
      "/chats/:chat_id/language-code",
      ({ params, body }) => setChatLanguageCode(deps.db, params.chat_id, body.language_code),
      {
        auth: "telegram:service",
        params: ChatIdParams,
        body: LanguageCodeRequest,
        response: { 200: LanguageCodeResult, 404: notLinked },
        detail: {
          summary: "Record the Telegram language_code last seen in a chat",
          description:
            "A delivery goes in the user's `language` preference, else the first two letters of this code when en, ru or es, else en. Answers the user's `language` preference (null when unset) so the bot can cache it. 404 `not_linked` when the chat is not linked.",
        },
      },
    )
