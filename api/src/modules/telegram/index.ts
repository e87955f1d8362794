import { Elysia, t } from "elysia"
import { authPlugin } from "../../auth"
import type { Deps, Limits } from "../../context"
import { answers } from "../../docs"
import { tooManyRequests } from "../../errors"
import { ChatIdParams } from "../../model"
import { Profile } from "../oracle/model"
import {
  ChatBlockedRequest,
  ChatMigrationRequest,
  ChatState,
  LinkTokenRedeemRequest,
  LinkTokenResponse,
  TelegramLinkRequest,
  TelegramLinkResponse,
  TelegramLinkSummary,
  TelegramUserStatus,
  UnlinkResponse,
} from "./model"
import {
  chatProfiles,
  chatStatus,
  createLinkToken,
  linkChat,
  listLinks,
  migrateChat,
  redeemLinkToken,
  setChatBlocked,
  unlinkChat,
} from "./service"

export const telegramRoutes = (deps: Deps, limits: Limits) => {
  // Guesses of API keys through the bot: each chat gets a small budget. Only callers that passed
  // authentication reach it, so nobody can spend another chat's budget with junk requests.
  const perChat = deps.limiter("link", limits.linkPerChat)
  const tokensPerUser = deps.limiter("link-tokens", limits.linkTokensPerUser)

  return new Elysia({ prefix: "/telegram", tags: ["telegram"] })
    .use(authPlugin(deps))
    .post(
      "/link",
      async ({ body }) => {
        const verdict = await perChat.hit(String(body.telegram_chat_id))
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
        auth: "telegram:service",
        body: TelegramLinkRequest,
        response: {
          200: TelegramLinkResponse,
          401: answers("The API key in the body is invalid, expired or revoked (invalid_api_key)"),
          404: answers("The key's owner is deactivated (user_inactive)"),
          429: answers("Too many link attempts for this chat; see Retry-After"),
        },
        detail: {
          summary: "Link a Telegram chat to the account owning the API key in the body",
          description: `Only Telegram, through the bot, proves whose chat an id is. Upserts by chat id; 401 \`invalid_api_key\` for a bad key in the body, 404 \`user_inactive\`, 429 after 10 attempts a minute for one chat.`,
        },
      },
    )
    .post(
      "/link-tokens",
      async ({ principal, set }) => {
        const verdict = await tokensPerUser.hit(principal.userId)
        if (!verdict.ok) throw tooManyRequests(verdict.retryAfterSeconds)
        const token = await createLinkToken(
          deps.db,
          { userId: principal.userId, botUsername: deps.config.botUsername },
          deps.now(),
        )
        set.status = 201
        return token
      },
      {
        auth: "any",
        response: {
          201: LinkTokenResponse,
          429: answers("More than 10 link tokens for this user in 10 minutes; see Retry-After"),
        },
        detail: {
          summary: "A one-time deep link that links the caller's Telegram chat in one tap",
          description:
            "Redirect the user to `url`: Telegram opens the bot, which links the chat. The token works once, for 10 minutes; only its hash is stored. At most 10 per user in 10 minutes (429 with `Retry-After` beyond), counted across replicas when `REDIS_URL` is set.",
        },
      },
    )
    .post(
      "/link-tokens/redeem",
      ({ body }) =>
        redeemLinkToken(
          deps.db,
          {
            token: body.token,
            chatId: body.telegram_chat_id,
            telegramUsername: body.telegram_username,
          },
          deps.now(),
        ),
      {
        auth: "telegram:service",
        body: LinkTokenRedeemRequest,
        response: {
          200: TelegramLinkResponse,
          404: answers(
            "The token is unknown, expired or used (invalid_token), or its user is deactivated (user_inactive)",
          ),
        },
        detail: {
          summary: "Link a chat with a deep-link token (the bot's /start <token>)",
          description: `404 \`invalid_token\` when the token is unknown, expired or already used; 404 \`user_inactive\`. A token links exactly one chat, once, even when redeemed concurrently.`,
        },
      },
    )
    .get("/links", ({ principal }) => listLinks(deps.db, principal.userId), {
      auth: "any",
      response: { 200: t.Array(TelegramLinkSummary) },
      detail: {
        summary: "The caller's own linked chats",
        description:
          "Unlinked chats are listed with `is_active: false`; `blocked` means the user blocked the bot there.",
      },
    })
    .get("/status/:chat_id", ({ params }) => chatStatus(deps.db, params.chat_id, deps.now()), {
      auth: "telegram:service",
      params: ChatIdParams,
      response: { 200: TelegramUserStatus },
      detail: {
        summary: "Link status of a chat, with the user's profile and reading counts",
        description: `Answers for a blocked chat too: the user wrote to the bot, so it is unblocked.`,
      },
    })
    .delete(
      "/link/:chat_id",
      ({ params, principal }) => unlinkChat(deps.db, params.chat_id, principal),
      {
        auth: "any",
        params: ChatIdParams,
        response: {
          200: UnlinkResponse,
          404: answers(
            "The chat is not linked (not_linked); a user's credential gets the same for a chat linked to someone else",
          ),
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
      detail: {
        summary: "Oracle profiles of the user a chat is linked to",
      },
    })
    .put(
      "/chats/:chat_id/blocked",
      ({ params, body }) => setChatBlocked(deps.db, params.chat_id, body.blocked, deps.now()),
      {
        auth: "telegram:service",
        params: ChatIdParams,
        body: ChatBlockedRequest,
        response: { 200: ChatState, 404: answers("The chat is not linked (not_linked)") },
        detail: {
          summary: "Record that the bot can no longer (or again) reach a chat",
          description: `The bot reports \`my_chat_member\` updates (the user blocked or unblocked it, or it was removed from a group) and 403 answers from Telegram. Blocked chats keep their link but receive no notifications. 404 \`not_linked\` when the chat has never been linked.`,
        },
      },
    )
    .post(
      "/chats/:chat_id/migration",
      ({ params, body }) => migrateChat(deps.db, params.chat_id, body.to_chat_id),
      {
        auth: "telegram:service",
        params: ChatIdParams,
        body: ChatMigrationRequest,
        response: { 200: ChatState, 404: answers("The chat is not linked (not_linked)") },
        detail: {
          summary: "A group became a supergroup: its link moves to the new chat id",
          description: `Idempotent; answers the link under \`to_chat_id\`. 404 \`not_linked\` when neither chat id is linked.`,
        },
      },
    )
}
