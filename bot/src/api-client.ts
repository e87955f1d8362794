// The bot's only door to the NPS API: Eden Treaty typed from the API's own App, so request and
// response shapes come from the server's schemas. Every call resolves to a tagged result the
// handlers switch on; network failures, timeouts and odd statuses never escape as exceptions.
import { type Treaty, treaty } from "@elysiajs/eden"
import type { App } from "@nps/api"
import { describeError, type Logger } from "@nps/log"
import type { BotMetrics } from "./metrics"

export type NpsClient = Treaty.Create<App>
type TelegramRoutes = NpsClient["api"]["telegram"]

export type LinkedAccount = Treaty.Data<TelegramRoutes["link"]["post"]>
export type LinkedStatus = Extract<
  Treaty.Data<ReturnType<TelegramRoutes["status"]>["get"]>,
  { linked: true }
>
export type Profile = Treaty.Data<ReturnType<TelegramRoutes["profile"]>["get"]>[number]
export type Lease = Treaty.Data<TelegramRoutes["deliveries"]["lease"]["post"]>
export type Delivery = Lease["deliveries"][number]
export type DeliveryReport = Parameters<
  TelegramRoutes["deliveries"]["report"]["post"]
>[0]["results"][number]

/** The API answered with something this bot cannot act on (a bug or a misconfiguration). */
export type Failure =
  | { kind: "unavailable" }
  | { kind: "error"; status: number; code: string | undefined }

export type LinkResult =
  | { kind: "ok"; account: LinkedAccount }
  | { kind: "invalid_key" }
  | { kind: "inactive_user" }
  | { kind: "throttled" }
  | Failure
export type StatusResult = { kind: "ok"; status: LinkedStatus } | { kind: "not_linked" } | Failure
export type ProfilesResult = { kind: "ok"; profiles: Profile[] } | { kind: "not_linked" } | Failure
export type UnlinkResult = { kind: "ok" } | { kind: "not_linked" } | Failure
export type RedeemResult =
  | { kind: "ok"; account: LinkedAccount }
  | { kind: "invalid_token" }
  | { kind: "inactive_user" }
  | Failure
/** The answer to a report about a chat (blocked, unblocked, migrated). */
export type ChatReportResult = { kind: "ok" } | { kind: "not_linked" } | Failure
export type LeaseResult = { kind: "ok"; lease: Lease } | Failure
export type ReportResult = { kind: "ok"; applied: number; stale: number } | Failure

/** A user's notification preferences (CONTRACT "Preferences"), as the API answers them. */
export interface Preferences {
  muted_until: string | null
  time_zone: string
  quiet_hours: { start: string; end: string } | null
  categories: Record<string, boolean>
  language: "en" | "ru" | "es" | null
}
export type PreferencesPatch = Partial<Preferences>
export type PreferencesReadResult =
  | { kind: "ok"; preferences: Preferences }
  | { kind: "not_linked" }
  | Failure
export type PreferencesResult = PreferencesReadResult | { kind: "invalid_time_zone" }
/** The user's language preference, answered when the bot reports a chat's language_code. */
export type LanguageCodeResult =
  | { kind: "ok"; language: Preferences["language"] }
  | { kind: "not_linked" }
  | Failure

export interface LinkInput {
  chatId: number
  telegramUsername: string | null
  apiKey: string
}

export interface RedeemInput {
  chatId: number
  telegramUsername: string | null
  /** The deep link's one-time token (a secret until spent: never logged). */
  token: string
}

/** What the command handlers need from the API. */
export interface NpsApi {
  link(input: LinkInput): Promise<LinkResult>
  redeem(input: RedeemInput): Promise<RedeemResult>
  status(chatId: number): Promise<StatusResult>
  profiles(chatId: number): Promise<ProfilesResult>
  unlink(chatId: number): Promise<UnlinkResult>
  /** Telegram says the bot cannot reach the chat any more (true), or can again (false). */
  setBlocked(chatId: number, blocked: boolean): Promise<ChatReportResult>
  /** A group became a supergroup with a new chat id. */
  migrate(fromChatId: number, toChatId: number): Promise<ChatReportResult>
  /**
   * Due deliveries, waiting up to `waitSeconds` for some (a long poll with its own deadline, on
   * a connection of its own: the other calls never queue behind it). `signal` ends it early.
   */
  lease(input: { max: number; waitSeconds: number }, signal: AbortSignal): Promise<LeaseResult>
  /** What became of leased deliveries. */
  report(results: DeliveryReport[]): Promise<ReportResult>
  /** The linked user's notification preferences. */
  preferences(chatId: number): Promise<PreferencesReadResult>
  /** Changes the fields given (null clears one); answers the full result. */
  updatePreferences(chatId: number, patch: PreferencesPatch): Promise<PreferencesResult>
  /** The Telegram client's language_code last seen in this chat (deliveries use it). */
  reportLanguageCode(chatId: number, languageCode: string): Promise<LanguageCodeResult>
}

export interface ApiClientOptions {
  /** e.g. http://api:8000/api — the `/api` prefix is part of the routes, so it is stripped here. */
  baseUrl: string
  serviceKey: string | undefined
  logger: Logger
  /**
   * Bun's fetch has no connect timeout; its socket idle timeout stands in for one (no byte for
   * this long, connecting included, fails the call). Bun checks it on a coarse timer, so it fires
   * up to a few seconds late; the total deadline below is exact.
   */
  connectTimeoutMs?: number
  /** Deadline for the whole call, body included. */
  totalTimeoutMs?: number
  /** An in-process Elysia app instead of HTTP (tests); skips the network and its timeouts. */
  app?: App
  /** Records each call's latency by endpoint and status (METRICS_PORT). */
  metrics?: Pick<BotMetrics, "apiCall">
}

// Statuses that mean "try again later" rather than "this request is wrong".
const TRANSIENT = new Set([408, 429, 502, 503, 504])

interface Raw {
  status: number
  error: { value: unknown } | null
}

const errorCode = (value: unknown): string | undefined =>
  typeof value === "object" &&
  value !== null &&
  typeof (value as { error?: unknown }).error === "string"
    ? (value as { error: string }).error
    : undefined

export function createApiClient(options: ApiClientOptions): NpsApi {
  const { logger, metrics, connectTimeoutMs = 5_000, totalTimeoutMs = 10_000 } = options
  const headers = options.serviceKey ? { authorization: `Bearer ${options.serviceKey}` } : undefined
  // A call may bring its own deadline (the lease long poll); every other call gets the default.
  const fetcher = ((input: string | URL | Request, init?: BunFetchRequestInit) =>
    fetch(input, {
      ...init,
      timeout: init?.timeout ?? connectTimeoutMs,
      signal: init?.signal ?? AbortSignal.timeout(totalTimeoutMs),
    })) as typeof fetch
  const domain = options.baseUrl.replace(/\/+$/, "").replace(/\/api$/, "")
  const config = { headers, fetcher, parseDate: false }
  const client: NpsClient = options.app
    ? treaty<App>(options.app, config)
    : treaty<App>(domain, config)

  /** Runs one call; `undefined` means the API could not be reached or timed out. */
  const call = async <T extends Raw>(
    endpoint: string,
    /** What the call is about, for the log line (a chat id, a count). */
    about: Record<string, number>,
    run: () => Promise<T>,
    /** Aborted by us (stopping): not worth a warning. */
    quietAfter?: AbortSignal,
  ): Promise<T | undefined> => {
    const started = performance.now()
    const duration = () => Math.round(performance.now() - started)
    try {
      const raw = await run()
      // Eden reports a failed fetch as status 503 with no response body.
      if (raw.error && raw.status === 503 && raw.error.value instanceof Error) throw raw.error.value
      const code = raw.error ? errorCode(raw.error.value) : undefined
      metrics?.apiCall(endpoint, raw.status, (performance.now() - started) / 1000)
      const level = raw.status >= 500 ? "warn" : "debug"
      logger[level]("api call", {
        endpoint,
        ...about,
        status: raw.status,
        code,
        duration_ms: duration(),
      })
      return raw
    } catch (error) {
      metrics?.apiCall(endpoint, "unreachable", (performance.now() - started) / 1000)
      if (quietAfter?.aborted) return undefined
      logger.warn("api unreachable", {
        endpoint,
        ...about,
        duration_ms: duration(),
        error: describeError(error),
      })
      return undefined
    }
  }

  const failure = (endpoint: string, raw: Raw | undefined): Failure => {
    if (!raw || TRANSIENT.has(raw.status)) return { kind: "unavailable" }
    const code = raw.error ? errorCode(raw.error.value) : undefined
    // 401/403 here means the service key is missing or wrong: an operator must act.
    logger.error("unexpected api response", { endpoint, status: raw.status, code })
    return { kind: "error", status: raw.status, code }
  }

  return {
    async link({ chatId, telegramUsername, apiKey }) {
      const raw = await call("link", { chat_id: chatId }, () =>
        client.api.telegram.link.post({
          telegram_chat_id: chatId,
          telegram_username: telegramUsername,
          api_key: apiKey,
        }),
      )
      if (raw && raw.error === null) return { kind: "ok", account: raw.data }
      // 401 `invalid_api_key` is the user's key; any other 401 is the bot's own (see failure).
      const code = raw?.error ? errorCode(raw.error.value) : undefined
      if (raw?.status === 401 && code === "invalid_api_key") return { kind: "invalid_key" }
      if (raw?.status === 404 && code === "user_inactive") return { kind: "inactive_user" }
      if (raw?.status === 429) return { kind: "throttled" }
      return failure("link", raw)
    },

    async redeem({ chatId, telegramUsername, token }) {
      const raw = await call("redeem", { chat_id: chatId }, () =>
        client.api.telegram["link-tokens"].redeem.post({
          token,
          telegram_chat_id: chatId,
          telegram_username: telegramUsername,
        }),
      )
      if (raw && raw.error === null) return { kind: "ok", account: raw.data }
      const code = raw?.error ? errorCode(raw.error.value) : undefined
      if (raw?.status === 404 && code === "invalid_token") return { kind: "invalid_token" }
      if (raw?.status === 404 && code === "user_inactive") return { kind: "inactive_user" }
      return failure("redeem", raw)
    },

    async status(chatId) {
      const raw = await call("status", { chat_id: chatId }, () =>
        client.api.telegram.status({ chat_id: chatId }).get(),
      )
      if (raw && raw.error === null) {
        return raw.data.linked ? { kind: "ok", status: raw.data } : { kind: "not_linked" }
      }
      return failure("status", raw)
    },

    async profiles(chatId) {
      const raw = await call("profile", { chat_id: chatId }, () =>
        client.api.telegram.profile({ chat_id: chatId }).get(),
      )
      if (raw && raw.error === null) return { kind: "ok", profiles: raw.data }
      if (raw?.status === 404) return { kind: "not_linked" }
      return failure("profile", raw)
    },

    async unlink(chatId) {
      const raw = await call("unlink", { chat_id: chatId }, () =>
        client.api.telegram.link({ chat_id: chatId }).delete(),
      )
      if (raw && raw.error === null) return { kind: "ok" }
      if (raw?.status === 404) return { kind: "not_linked" }
      return failure("unlink", raw)
    },

    async setBlocked(chatId, blocked) {
      const raw = await call("blocked", { chat_id: chatId }, () =>
        client.api.telegram.chats({ chat_id: chatId }).blocked.put({ blocked }),
      )
      if (raw && raw.error === null) return { kind: "ok" }
      if (raw?.status === 404) return { kind: "not_linked" }
      return failure("blocked", raw)
    },

    async lease({ max, waitSeconds }, signal) {
      const deadlineMs = (waitSeconds + 10) * 1000
      const raw = await call(
        "lease",
        { max },
        () =>
          client.api.telegram.deliveries.lease.post(
            { max, wait_seconds: waitSeconds },
            {
              fetch: {
                signal: AbortSignal.any([signal, AbortSignal.timeout(deadlineMs)]),
                // No bytes flow while the API waits: the socket's idle timer must allow for it.
                timeout: deadlineMs,
              } as RequestInit,
            },
          ),
        signal,
      )
      if (raw && raw.error === null) return { kind: "ok", lease: raw.data }
      return failure("lease", raw)
    },

    async report(results) {
      const raw = await call("report", { results: results.length }, () =>
        client.api.telegram.deliveries.report.post({ results }),
      )
      if (raw && raw.error === null) return { kind: "ok", ...raw.data }
      return failure("report", raw)
    },

    async preferences(chatId) {
      const raw = await call("preferences", { chat_id: chatId }, () =>
        client.api.telegram.chats({ chat_id: chatId }).preferences.get(),
      )
      if (raw && raw.error === null) return { kind: "ok", preferences: raw.data as Preferences }
      if (raw?.status === 404) return { kind: "not_linked" }
      return failure("preferences", raw)
    },

    async updatePreferences(chatId, patch) {
      const raw = await call("preferences", { chat_id: chatId }, () =>
        client.api.telegram.chats({ chat_id: chatId }).preferences.put(patch),
      )
      if (raw && raw.error === null) return { kind: "ok", preferences: raw.data as Preferences }
      if (raw?.status === 404) return { kind: "not_linked" }
      const code = raw?.error ? errorCode(raw.error.value) : undefined
      if (raw?.status === 422 && code === "invalid_time_zone") return { kind: "invalid_time_zone" }
      return failure("preferences", raw)
    },

    async reportLanguageCode(chatId, languageCode) {
      const raw = await call("language_code", { chat_id: chatId }, () =>
        client.api.telegram
          .chats({ chat_id: chatId })
          ["language-code"].put({ language_code: languageCode.slice(0, 35) }),
      )
      if (raw && raw.error === null)
        return {
          kind: "ok",
          language: (raw.data as { language: Preferences["language"] }).language,
        }
      if (raw?.status === 404) return { kind: "not_linked" }
      return failure("language_code", raw)
    },

    async migrate(fromChatId, toChatId) {
      const raw = await call("migration", { chat_id: fromChatId }, () =>
        client.api.telegram.chats({ chat_id: fromChatId }).migration.post({ to_chat_id: toChatId }),
      )
      if (raw && raw.error === null) return { kind: "ok" }
      if (raw?.status === 404) return { kind: "not_linked" }
      return failure("migration", raw)
    },
  }
}
