import { Elysia, t } from "elysia"
import { authenticate, authPlugin } from "../../auth"
import type { Deps, Limits } from "../../context"
import { answers } from "../../docs"
import { tooManyRequests } from "../../errors"
import { ChatIdParams } from "../../model"
import { clientAddress, createRateLimiter } from "../../rate-limit"
import { Profile } from "../oracle/model"
import {
  TelegramLinkRequest,
  TelegramLinkResponse,
  TelegramUserStatus,
  UnlinkResponse,
} from "./model"
import { chatProfiles, chatStatus, linkChat, unlinkChat } from "./service"

export const telegramRoutes = (deps: Deps, limits: Limits) => {
  const clock = () => deps.now().getTime()
  const perAddress = createRateLimiter(limits.link, clock)
  const perChat = createRateLimiter(limits.linkPerChat, clock)

  return new Elysia({ prefix: "/telegram", tags: ["telegram"] })
    .use(authPlugin(deps))
    .post(
      "/link",
      async ({ body, headers, request, server }) => {
        // Brute-force guard. The bot links for every user from one address, so callers holding
        // the service key are limited per chat only.
        const caller = headers.authorization
          ? await authenticate(deps, headers.authorization)
          : null
        const checks = caller?.scopes.includes("telegram:service")
          ? []
          : [perAddress.hit(clientAddress(request, server))]
        checks.push(perChat.hit(String(body.telegram_chat_id)))
        for (const verdict of checks)
          if (!verdict.ok) throw tooManyRequests(verdict.retryAfterSeconds)
        return linkChat(
          deps.db,
          {
            chatId: body.telegram_chat_id,
            telegramUsername: body.telegram_username,
            apiKey: body.api_key,
          },
          deps.now(),
        )
      },
      {
        body: TelegramLinkRequest,
        response: {
          200: TelegramLinkResponse,
          401: answers("The API key in the body is invalid, expired or revoked"),
          404: answers("The key's owner is deactivated"),
          429: answers(
            "Too many link attempts from this address or for this chat; see Retry-After",
          ),
        },
        detail: {
          summary: "Link a Telegram chat to the account owning the API key in the body",
          description:
            "No Authorization needed: the key in the body is the credential. Upserts by chat id.",
        },
      },
    )
    .get("/status/:chat_id", ({ params }) => chatStatus(deps.db, params.chat_id, deps.now()), {
      auth: "telegram:service",
      params: ChatIdParams,
      response: { 200: TelegramUserStatus },
      detail: { summary: "Link status of a chat, with the user's profile and reading counts" },
    })
    .delete(
      "/link/:chat_id",
      ({ params, principal }) => unlinkChat(deps.db, params.chat_id, principal),
      {
        auth: "any",
        params: ChatIdParams,
        response: {
          200: UnlinkResponse,
          403: answers("The chat is linked to another account"),
          404: answers("The chat is not linked"),
        },
        detail: {
          summary: "Unlink a chat (the bot's service key, or the linked user's own credentials)",
        },
      },
    )
    .get("/profile/:chat_id", ({ params }) => chatProfiles(deps.db, params.chat_id, deps.now()), {
      auth: "telegram:service",
      params: ChatIdParams,
      response: { 200: t.Array(Profile), 404: answers("The chat is not linked (not_linked)") },
      detail: { summary: "Oracle profiles of the user a chat is linked to" },
    })
}
