// A small Telegram Bot API server (Bun.serve on 127.0.0.1) that speaks Telegram's HTTP protocol
// well enough to run the real bot against it: getMe, getUpdates with offsets and long polling,
// sendMessage, deleteMessage, setMyCommands, and webhooks (setWebhook, deleteWebhook,
// getWebhookInfo; queued updates are then POSTed to the webhook as Telegram does: one chat's in
// order, each only after the previous one was answered 2xx, failed ones again after a pause). It records every call, lets a test program failures
// (400, 403, 409, 429 with retry_after, 5xx), and lets a program queue a user's message and await
// the bot's replies — tests use it, and so can an offline "chat with the bot in a terminal" mode.
// Chats behave as in Telegram when the user blocks the bot (a my_chat_member update, then 403 on
// every send until unblocked) and when a group becomes a supergroup (service messages in both
// chats, then 400 with migrate_to_chat_id for sends to the old id), and, when asked, enforces
// Telegram's flood limits on messages (30 a second overall, 1 a second to a private chat, 20 a
// minute to a group; sliding windows by arrival) with 429 and retry_after, counting each 429.
// Paid broadcast: a message with allow_paid_broadcast skips the 30-a-second window, and every
// message counts in a 1,000-a-second one; asked to, it refuses such messages as Telegram does
// when the bot cannot pay (400 BALANCE_TOO_LOW).
// Messages are checked as Telegram checks them (stand-in-messages.ts: HTML parsed by
// stand-in-html.ts, inline keyboards, delivery options); button taps come as callback queries
// (callbackQuery), answered with answerCallbackQuery, and editMessageText edits in place;
// setMyCommands / setMyDescription / setMyShortDescription are kept per language_code (profile).
import type {
  TelegramChat,
  TelegramChatMember,
  TelegramMessage,
  TelegramUpdate,
  TelegramUser,
} from "@gramio/types"
import { laneKey } from "../../bot/src/inbound/lane"
import { checkMessage } from "./stand-in-messages"

export type ChatType = "private" | "group" | "supergroup" | "channel"

export interface RecordedCall {
  /** Position in `calls`, usable as `since` for later waits. */
  index: number
  method: string
  // biome-ignore lint/suspicious/noExplicitAny: Bot API params are arbitrary JSON
  params: Record<string, any>
  status: number
  response: unknown
}

/**
 * A programmed answer: an error status (with optional retry_after or other `parameters`, such as
 * migrate_to_chat_id), a raw body, or silence.
 */
export type Failure =
  | {
      status: number
      description?: string
      retryAfter?: number
      parameters?: Record<string, unknown>
      body?: string
    }
  | { hang: true }

export interface ChatOptions {
  type?: ChatType
  title?: string
  /** Whether the bot may delete other people's messages there (always true in private chats). */
  botIsAdmin?: boolean
  /** false: Telegram does not know the chat (sends answer 400 "chat not found"). */
  exists?: boolean
}

export interface FloodLimit {
  limit: number
  windowMs: number
}

export interface FloodLimits {
  /** Messages without allow_paid_broadcast. */
  overall: FloodLimit
  /** Every message, paid or not (default: Telegram's 1,000 a second). */
  paid?: FloodLimit
  privateChat: FloodLimit
  groupChat: FloodLimit
}

/**
 * Telegram's documented limits for messages. Written out again rather than imported from the
 * pacer on purpose: the stand-in is the pacer's judge, so a wrong limit there must not be shared.
 */
export const TELEGRAM_FLOOD_LIMITS: FloodLimits = {
  overall: { limit: 30, windowMs: 1_000 },
  paid: { limit: 1_000, windowMs: 1_000 },
  privateChat: { limit: 1, windowMs: 1_000 },
  groupChat: { limit: 20, windowMs: 60_000 },
}

/** Telegram's answer to allow_paid_broadcast from a bot that cannot pay (MTProto BALANCE_TOO_LOW). */
export const PAID_BROADCAST_REFUSED = "Bad Request: BALANCE_TOO_LOW"

export interface StandInOptions {
  token?: string
  bot?: Partial<TelegramUser>
  /** Upper bound on a long poll's wait, in ms (default: whatever timeout the client asks for). */
  maxPollMs?: number
  /** First pause before a failed webhook delivery is tried again, doubling to 2 s (default 100). */
  webhookRetryMs?: number
  /** How long a webhook request may take before it counts as failed (default 60 s). */
  webhookTimeoutMs?: number
  /** Enforce flood limits on messages: 429 with retry_after beyond them (true: Telegram's). */
  floodLimits?: true | FloodLimits
  /** Milliseconds clock for flood limits. */
  now?: () => number
  /** "refused": messages with allow_paid_broadcast get 400 PAID_BROADCAST_REFUSED (default allowed). */
  paidBroadcast?: "allowed" | "refused"
}

/** A webhook as setWebhook registered it. */
export interface Webhook {
  url: string
  secret: string | undefined
  maxConnections: number
}

/** One POST of an update to the webhook: the HTTP status, 0 when no answer came. */
export interface WebhookDelivery {
  updateId: number
  url: string
  status: number
}

/** The bot's status in a chat, as a my_chat_member update reports it. */
export type MemberStatus = TelegramChatMember["status"]

export interface MessageOptions {
  from?: Partial<TelegramUser>
  /** Defaults to private for positive ids, supergroup for negative ones (unless set with chat()). */
  type?: ChatType
}

export interface BotApiStandIn {
  /** Bot API root for TELEGRAM_API_ROOT: requests go to `${url}/bot${token}/${method}`. */
  readonly url: string
  readonly token: string
  readonly botInfo: TelegramUser
  readonly calls: readonly RecordedCall[]
  /** Updates queued and not yet confirmed by a getUpdates offset. */
  readonly pendingUpdates: number
  /** Messages answered 429 by the flood limits (floodLimits), programmed failures not counted. */
  readonly floodRefusals: number
  /** Messages with allow_paid_broadcast refused (paidBroadcast: "refused"). */
  readonly paidRefusals: number
  /** The most messages accepted within any `windowMs` (default 1 s), by arrival. */
  busiest(windowMs?: number): number
  /** Declares a chat's type and the bot's rights in it. */
  chat(id: number, options: ChatOptions): void
  /** Queues a text message from a user, with a bot_command entity when it starts with "/". */
  message(chatId: number, text: string, options?: MessageOptions): TelegramUpdate
  /**
   * Queues a my_chat_member update: the bot's status in the chat changed from what it was to
   * `status`. In a private chat "kicked" is the user blocking the bot and "member" unblocking it;
   * in a group "kicked"/"left" remove it. While removed, calls to the chat answer 403.
   */
  chatMember(chatId: number, status: MemberStatus, options?: MessageOptions): TelegramUpdate
  /**
   * A group becomes a supergroup: queues the service messages Telegram posts in both chats
   * (migrate_to_chat_id in the old, migrate_from_chat_id in the new); from then on, sends to the
   * old id answer 400 with parameters.migrate_to_chat_id.
   */
  migrate(fromChatId: number, toChatId: number): [TelegramUpdate, TelegramUpdate]
  /**
   * Queues a callback_query: the user tapped a button with `data` under the bot's message
   * `messageId` in that chat (default: the bot's latest message there). Telegram sends whatever
   * data a client claims, so a test may forge it.
   */
  callbackQuery(
    chatId: number,
    data: string,
    options?: { messageId?: number; from?: Partial<TelegramUser> },
  ): TelegramUpdate
  /** The bot's message as the chat shows it now (after edits), if it sent one with that id. */
  botMessage(chatId: number, messageId: number): TelegramMessage | undefined
  /** What setMyCommands / setMyDescription / setMyShortDescription last set, by language_code ("" = default). */
  readonly profile: {
    commands: ReadonlyMap<string, { command: string; description: string }[]>
    description: ReadonlyMap<string, string>
    shortDescription: ReadonlyMap<string, string>
  }
  /** Queues any update (update_id assigned when missing). */
  enqueue(update: Omit<TelegramUpdate, "update_id"> & { update_id?: number }): TelegramUpdate
  /** Queues a message and resolves with the texts of the next `count` replies sent to that chat. */
  say(
    chatId: number,
    text: string,
    options?: MessageOptions & { count?: number; timeoutMs?: number },
  ): Promise<string[]>
  /** Resolves with the texts of the first `count` messages sent to a chat from call `since` on. */
  replies(
    chatId: number,
    count: number,
    options?: { since?: number; timeoutMs?: number },
  ): Promise<string[]>
  /** sendMessage calls, optionally only those to one chat. */
  sent(chatId?: number): RecordedCall[]
  waitForCall(
    method: string,
    predicate?: (call: RecordedCall) => boolean,
    options?: { since?: number; timeoutMs?: number },
  ): Promise<RecordedCall>
  /**
   * Resolves when a matching request arrives (calls are recorded when answered, so a long poll
   * shows up in `calls` only when it returns; this sees it as it starts).
   */
  waitForRequest(
    method: string,
    predicate?: (params: RecordedCall["params"]) => boolean,
    options?: { timeoutMs?: number },
  ): Promise<RecordedCall["params"]>
  /** Resolves once a getUpdates request is parked waiting for updates. */
  waitForPoll(): Promise<void>
  /** Resolves once getUpdates has returned the update with this id. */
  delivered(updateId: number): Promise<void>
  /** Answers the next `times` calls of `method` with `failure` instead of normally. */
  fail(method: string, failure: Failure, times?: number): void
  /** The webhook set with setWebhook, if any (getUpdates answers 409 meanwhile). */
  readonly webhook: Webhook | undefined
  /** Every POST of an update to the webhook, in the order they were answered. */
  readonly deliveries: readonly WebhookDelivery[]
  /**
   * A user's text message as Telegram would deliver it, without queueing it (for post()): a
   * bot_command entity when it starts with "/".
   */
  draft(chatId: number, text: string, options?: MessageOptions): TelegramUpdate
  /**
   * POSTs an update once, as Telegram does: to `url` (default: the registered webhook) with the
   * secret header (default: the registered secret; null: no header). The queue is not touched.
   */
  post(
    update: TelegramUpdate,
    options?: { url?: string; secret?: string | null; signal?: AbortSignal },
  ): Promise<Response>
  /** Called after every recorded call; returns an unsubscribe function. */
  onCall(listener: (call: RecordedCall) => void): () => void
  close(): Promise<void>
}

interface Poll {
  offset: number
  limit: number
  resolve: (response: Response) => void
  timer: ReturnType<typeof setTimeout>
}

interface Waiter {
  matches: (call: RecordedCall) => boolean
  resolve: (call: RecordedCall) => void
}

const CONFLICT =
  "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
const WEBHOOK_ACTIVE =
  "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"

/** Update types Telegram sends only to bots that list them in allowed_updates. */
const OPT_IN_UPDATES = new Set(["chat_member", "message_reaction", "message_reaction_count"])

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } })

const ok = (result: unknown) => json({ ok: true, result })

const apiError = (status: number, description: string, parameters?: Record<string, unknown>) =>
  json({ ok: false, error_code: status, description, ...(parameters && { parameters }) }, status)

const DEFAULT_DESCRIPTIONS: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden: bot was blocked by the user",
  409: CONFLICT,
  429: "Too Many Requests: retry after 1",
  500: "Internal Server Error",
  502: "Bad Gateway",
}

async function readParams(request: Request): Promise<Record<string, unknown>> {
  const url = new URL(request.url)
  const params: Record<string, unknown> = Object.fromEntries(url.searchParams)
  const type = request.headers.get("content-type") ?? ""
  if (type.includes("application/json")) {
    const text = await request.text()
    if (text) Object.assign(params, JSON.parse(text))
  } else if (type.includes("form")) {
    for (const [key, value] of await request.formData()) {
      if (typeof value !== "string") continue
      try {
        params[key] = JSON.parse(value)
      } catch {
        params[key] = value
      }
    }
  }
  return params
}

export async function startBotApiStandIn(options: StandInOptions = {}): Promise<BotApiStandIn> {
  const token = options.token ?? "123456789:AAStandInTokenForTestsOnly_0123456789"
  const botInfo: TelegramUser = {
    id: Number(token.split(":")[0]) || 123456789,
    is_bot: true,
    first_name: "NPS Oracle Bot",
    username: "NpsOracleTestBot",
    can_join_groups: true,
    can_read_all_group_messages: false,
    supports_inline_queries: false,
    ...options.bot,
  }

  const calls: RecordedCall[] = []
  const queue: TelegramUpdate[] = []
  const chats = new Map<
    number,
    Required<Omit<ChatOptions, "title">> & {
      title?: string
      /** The bot's own status there (my_chat_member). */
      status: MemberStatus
      migratedTo?: number
    }
  >()
  // Messages the bot could be asked to delete: `${chat}:${id}` → deleted yet?
  const messages = new Map<string, { deleted: boolean; fromBot: boolean }>()
  const failures = new Map<string, { failure: Failure; times: number }[]>()
  const waiters = new Set<Waiter>()
  const arrivals = new Set<(method: string, params: Record<string, unknown>) => void>()
  const pollWaiters: (() => void)[] = []
  const deliveredWaiters = new Map<number, (() => void)[]>()
  const deliveredIds = new Set<number>()
  const listeners = new Set<(call: RecordedCall) => void>()
  const hanging = new Set<() => void>()
  let polls: Poll[] = []
  let nextUpdateId = 1
  let nextMessageId = 1
  let closed = false

  const chatOf = (id: number, type?: ChatType) => {
    let chat = chats.get(id)
    if (!chat) {
      chat = {
        type: type ?? (id > 0 ? "private" : "supergroup"),
        botIsAdmin: false,
        exists: true,
        status: "member",
      }
      chats.set(id, chat)
    }
    const telegramChat: TelegramChat =
      chat.type === "private"
        ? { id, type: "private", first_name: "Test" }
        : { id, type: chat.type, title: chat.title ?? `Chat ${id}` }
    return { chat, telegramChat }
  }

  const record = (
    method: string,
    params: Record<string, unknown>,
    status: number,
    response: unknown,
  ) => {
    const call: RecordedCall = { index: calls.length, method, params, status, response }
    calls.push(call)
    for (const waiter of [...waiters]) {
      if (waiter.matches(call)) {
        waiters.delete(waiter)
        waiter.resolve(call)
      }
    }
    for (const listener of listeners) listener(call)
    return call
  }

  const takeFailure = (method: string): Failure | undefined => {
    const list = failures.get(method)
    const head = list?.[0]
    if (!list || !head) return undefined
    if (--head.times <= 0) list.shift()
    return head.failure
  }

  // allowed_updates, as Telegram keeps it: the last list a getUpdates gave (none: its default,
  // everything but the opt-in types). Updates of other types are never delivered.
  let allowedUpdates: ReadonlySet<string> | undefined
  const wanted = (update: TelegramUpdate) => {
    const type = Object.keys(update).find((key) => key !== "update_id") ?? ""
    return allowedUpdates ? allowedUpdates.has(type) : !OPT_IN_UPDATES.has(type)
  }

  /** Confirms updates below `offset` and returns what a getUpdates with it would deliver now. */
  const available = (offset: number, limit: number): TelegramUpdate[] => {
    if (offset < 0) {
      // Negative offset: keep only the last -offset updates, forgetting the rest (as Telegram).
      queue.splice(0, Math.max(0, queue.length + offset))
    } else {
      while (queue.length > 0 && (queue[0]?.update_id ?? 0) < offset) queue.shift()
    }
    const kept = queue.filter(wanted)
    queue.splice(0, queue.length, ...kept)
    return queue.slice(0, limit)
  }

  const deliver = (updates: TelegramUpdate[]) => {
    for (const update of updates) {
      deliveredIds.add(update.update_id)
      const list = deliveredWaiters.get(update.update_id)
      deliveredWaiters.delete(update.update_id)
      for (const resolve of list ?? []) resolve()
    }
  }

  // --- webhooks: what Telegram does once setWebhook is called ---------------------------------
  let webhook: Webhook | undefined
  let lastWebhookError: { date: number; message: string } | undefined
  const deliveries: WebhookDelivery[] = []
  const pushing = new Set<number>()
  const retries = new Map<number, { at: number; attempts: number }>()
  const retryTimers = new Set<ReturnType<typeof setTimeout>>()
  const stopPushing = new AbortController()
  const retryMs = options.webhookRetryMs ?? 100
  const webhookTimeoutMs = options.webhookTimeoutMs ?? 60_000

  const post: BotApiStandIn["post"] = (update, { url, secret, signal } = {}) => {
    const target = url ?? webhook?.url
    if (!target) throw new Error("stand-in: no webhook set and no url given")
    const token = secret === undefined ? webhook?.secret : (secret ?? undefined)
    return fetch(target, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(token !== undefined && { "X-Telegram-Bot-Api-Secret-Token": token }),
      },
      body: JSON.stringify(update),
      signal,
    })
  }

  /** POSTs what can go now: the first queued update of each chat not already on its way. */
  const pushUpdates = () => {
    const hook = webhook
    if (!hook || closed) return
    const kept = queue.filter(wanted)
    queue.splice(0, queue.length, ...kept)
    // One chat's updates in order: the next goes only once the one before it was answered 2xx.
    const lanes = new Set<string>()
    for (const update of queue) {
      const lane = laneKey(update)
      if (lanes.has(lane)) continue
      lanes.add(lane)
      if (pushing.has(update.update_id)) continue
      if (pushing.size >= hook.maxConnections) break
      if ((retries.get(update.update_id)?.at ?? 0) > Date.now()) continue
      void push(update, hook)
    }
  }

  const push = async (update: TelegramUpdate, hook: Webhook) => {
    const id = update.update_id
    pushing.add(id)
    let status = 0
    try {
      const response = await post(update, {
        url: hook.url,
        secret: hook.secret ?? null,
        signal: AbortSignal.any([stopPushing.signal, AbortSignal.timeout(webhookTimeoutMs)]),
      })
      status = response.status
      await response.arrayBuffer()
    } catch {}
    pushing.delete(id)
    if (closed) return
    deliveries.push({ updateId: id, url: hook.url, status })
    if (status >= 200 && status < 300) {
      retries.delete(id)
      const at = queue.findIndex((queued) => queued.update_id === id)
      if (at >= 0) queue.splice(at, 1)
      deliver([update])
    } else {
      lastWebhookError = {
        date: Math.floor(Date.now() / 1000),
        message: status ? `Wrong response from the webhook: ${status}` : "Connection failed",
      }
      const attempts = (retries.get(id)?.attempts ?? 0) + 1
      const delay = Math.min(2_000, retryMs * 2 ** (attempts - 1))
      retries.set(id, { at: Date.now() + delay, attempts })
      const timer = setTimeout(() => {
        retryTimers.delete(timer)
        pushUpdates()
      }, delay)
      retryTimers.add(timer)
    }
    pushUpdates()
  }

  const answerPolls = () => {
    const waiting = polls
    polls = []
    for (const poll of waiting) {
      const updates = available(poll.offset, poll.limit)
      if (updates.length === 0) {
        polls.push(poll)
        continue
      }
      clearTimeout(poll.timer)
      deliver(updates)
      poll.resolve(ok(updates))
    }
  }

  const getUpdates = (
    params: Record<string, unknown>,
    signal: AbortSignal,
  ): Response | Promise<Response> => {
    if (webhook) return apiError(409, WEBHOOK_ACTIVE)
    const offset = Number(params.offset ?? 0)
    const limit = Math.min(Math.max(Number(params.limit ?? 100), 1), 100)
    if (Array.isArray(params.allowed_updates))
      allowedUpdates = params.allowed_updates.length
        ? new Set(params.allowed_updates.map(String))
        : undefined
    const timeoutMs = Math.max(0, Number(params.timeout ?? 0)) * 1000
    // A newer getUpdates terminates the one still waiting, exactly as Telegram does.
    for (const poll of polls.splice(0)) {
      clearTimeout(poll.timer)
      poll.resolve(apiError(409, CONFLICT))
    }
    const updates = available(offset, limit)
    if (updates.length > 0 || timeoutMs === 0 || closed) {
      deliver(updates)
      return ok(updates)
    }
    return new Promise<Response>((resolve) => {
      const poll: Poll = {
        offset,
        limit,
        resolve,
        timer: setTimeout(
          () => {
            polls = polls.filter((p) => p !== poll)
            resolve(ok([]))
          },
          Math.min(timeoutMs, options.maxPollMs ?? timeoutMs),
        ),
      }
      polls.push(poll)
      // A client that gave up (aborted) is no longer polling.
      signal.addEventListener("abort", () => {
        clearTimeout(poll.timer)
        polls = polls.filter((p) => p !== poll)
      })
      for (const notify of pollWaiters.splice(0)) notify()
    })
  }

  /** What Telegram answers for a call to a chat the bot cannot write to, if it cannot. */
  // Flood limits: arrival times of the messages each window has let through.
  const floodLimits = options.floodLimits === true ? TELEGRAM_FLOOD_LIMITS : options.floodLimits
  const clockNow = options.now ?? Date.now
  const floodStamps = new Map<string, number[]>()
  let floodRefusals = 0
  let paidRefusals = 0
  /** When each message accepted arrived. */
  const accepted: number[] = []
  const MESSAGE_METHOD = /^(send(?!ChatAction)|copyMessage|forwardMessage)/
  /** A 429 if this message, arriving at `at`, is one too many; else counts it and returns undefined. */
  const flood = (method: string, params: Record<string, unknown>, at: number) => {
    if (!floodLimits || !MESSAGE_METHOD.test(method)) return undefined
    const chatId = Number(params.chat_id)
    const windows: [string, FloodLimit][] = [
      ["paid", floodLimits.paid ?? TELEGRAM_FLOOD_LIMITS.paid ?? floodLimits.overall],
      [`chat:${chatId}`, chatId > 0 ? floodLimits.privateChat : floodLimits.groupChat],
    ]
    if (params.allow_paid_broadcast !== true) windows.unshift(["all", floodLimits.overall])
    for (const [key, { limit, windowMs }] of windows) {
      const stamps = (floodStamps.get(key) ?? []).filter((t) => t > at - windowMs)
      floodStamps.set(key, stamps)
      if (stamps.length < limit) continue
      floodRefusals++
      const retryAfter = Math.max(1, Math.ceil(((stamps[0] ?? at) + windowMs - at) / 1000))
      return apiError(429, `Too Many Requests: retry after ${retryAfter}`, {
        retry_after: retryAfter,
      })
    }
    for (const [key] of windows) floodStamps.get(key)?.push(at)
    return undefined
  }

  const refusal = (chatId: number): Response | undefined => {
    const chat = chats.get(chatId)
    if (chat?.exists === false) return apiError(400, "Bad Request: chat not found")
    if (chat?.migratedTo !== undefined)
      return apiError(400, "Bad Request: group chat was upgraded to a supergroup chat", {
        migrate_to_chat_id: chat.migratedTo,
      })
    if (chat?.status === "kicked" || chat?.status === "left")
      return apiError(
        403,
        chat.type === "private"
          ? "Forbidden: bot was blocked by the user"
          : "Forbidden: bot was kicked from the group chat",
      )
    return undefined
  }

  const sender = (chatId: number, type: ChatType, from?: Partial<TelegramUser>) => {
    const id = from?.id ?? (type === "private" ? chatId : 4242)
    return { id, is_bot: false, first_name: "Test", username: `user${id}`, ...from }
  }

  // The bot's own messages as the chats show them (edits applied): what a callback_query carries.
  const botMessages = new Map<string, TelegramMessage>()
  // Callback queries sent to the bot, by id: answered yet?
  const callbackQueries = new Map<string, { answered: boolean }>()
  let nextCallbackId = 1
  const profile = {
    commands: new Map<string, { command: string; description: string }[]>(),
    description: new Map<string, string>(),
    shortDescription: new Map<string, string>(),
  }
  /** A language_code as Telegram takes it: empty (the default) or two letters. */
  const languageOf = (params: Record<string, unknown>) => {
    const code = params.language_code ?? ""
    return typeof code === "string" && /^([a-z]{2})?$/.test(code) ? code : undefined
  }
  const describe =
    (store: Map<string, string>, field: string, max: number, tooLong: string) =>
    (params: Record<string, unknown>) => {
      const language = languageOf(params)
      if (language === undefined) return apiError(400, "Bad Request: LANGUAGE_CODE_INVALID")
      const value = params[field] ?? ""
      if (typeof value !== "string") return apiError(400, `Bad Request: ${tooLong}`)
      if (value.length > max) return apiError(400, `Bad Request: ${tooLong}`)
      store.set(language, value)
      return ok(true)
    }

  const handlers: Record<
    string,
    (params: Record<string, unknown>, signal: AbortSignal) => Response | Promise<Response>
  > = {
    getMe: () => ok(botInfo),
    getUpdates,
    setWebhook: (params) => {
      const url = typeof params.url === "string" ? params.url : ""
      if (url === "") {
        webhook = undefined
        return ok(true)
      }
      if (!/^https?:\/\//.test(url) || !URL.canParse(url))
        return apiError(400, "Bad Request: bad webhook: invalid URL")
      const secret = params.secret_token
      if (secret !== undefined && !/^[A-Za-z0-9_-]{1,256}$/.test(String(secret)))
        return apiError(400, "Bad Request: secret token contains unallowed characters")
      const maxConnections = Number(params.max_connections ?? 40)
      if (!Number.isInteger(maxConnections) || maxConnections < 1 || maxConnections > 100)
        return apiError(400, "Bad Request: bad max_connections")
      if (Array.isArray(params.allowed_updates))
        allowedUpdates = params.allowed_updates.length
          ? new Set(params.allowed_updates.map(String))
          : undefined
      if (params.drop_pending_updates === true) queue.splice(0)
      webhook = {
        url,
        secret: secret === undefined ? undefined : String(secret),
        maxConnections,
      }
      // A webhook ends every long poll, as on Telegram.
      for (const poll of polls.splice(0)) {
        clearTimeout(poll.timer)
        poll.resolve(apiError(409, WEBHOOK_ACTIVE))
      }
      pushUpdates()
      return ok(true)
    },
    deleteWebhook: (params) => {
      webhook = undefined
      if (params.drop_pending_updates === true) queue.splice(0)
      return ok(true)
    },
    getWebhookInfo: () =>
      ok({
        url: webhook?.url ?? "",
        has_custom_certificate: false,
        pending_update_count: queue.length,
        ...(webhook && {
          max_connections: webhook.maxConnections,
          ...(allowedUpdates && { allowed_updates: [...allowedUpdates] }),
          ...(lastWebhookError && {
            last_error_date: lastWebhookError.date,
            last_error_message: lastWebhookError.message,
          }),
        }),
      }),
    setMyCommands: (params) => {
      const commands = params.commands
      const valid =
        Array.isArray(commands) &&
        commands.length <= 100 &&
        commands.every(
          (c: { command?: unknown; description?: unknown }) =>
            typeof c.command === "string" &&
            /^[a-z0-9_]{1,32}$/.test(c.command) &&
            typeof c.description === "string" &&
            c.description.length >= 1 &&
            c.description.length <= 256,
        )
      const language = languageOf(params)
      if (language === undefined) return apiError(400, "Bad Request: LANGUAGE_CODE_INVALID")
      if (!valid) return apiError(400, "Bad Request: BOT_COMMAND_INVALID")
      profile.commands.set(language, commands)
      return ok(true)
    },
    setMyDescription: describe(profile.description, "description", 512, "BOT_DESCRIPTION_INVALID"),
    setMyShortDescription: describe(
      profile.shortDescription,
      "short_description",
      120,
      "BOT_SHORT_DESCRIPTION_INVALID",
    ),
    answerCallbackQuery: (params) => {
      const query = callbackQueries.get(String(params.callback_query_id))
      if (!query || query.answered)
        return apiError(
          400,
          "Bad Request: query is too old and response timeout expired or query ID is invalid",
        )
      const text = params.text
      if (text !== undefined && (typeof text !== "string" || text.length > 200))
        return apiError(400, "Bad Request: MESSAGE_TOO_LONG")
      query.answered = true
      return ok(true)
    },
    editMessageText: (params) => {
      const chatId = Number(params.chat_id)
      const refused = refusal(chatId)
      if (refused) return refused
      const key = `${chatId}:${Number(params.message_id)}`
      const current = botMessages.get(key)
      if (!current || messages.get(key)?.deleted)
        return apiError(400, "Bad Request: message to edit not found")
      const checked = checkMessage(params)
      if (!checked.ok) return apiError(400, checked.description)
      const edited: TelegramMessage = {
        ...current,
        text: checked.text,
        edit_date: Math.floor(Date.now() / 1000),
      }
      delete edited.entities
      delete edited.reply_markup
      if (checked.entities) edited.entities = checked.entities
      if (checked.replyMarkup) edited.reply_markup = checked.replyMarkup
      if (
        edited.text === current.text &&
        JSON.stringify(edited.entities) === JSON.stringify(current.entities) &&
        JSON.stringify(edited.reply_markup) === JSON.stringify(current.reply_markup)
      )
        return apiError(
          400,
          "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
        )
      botMessages.set(key, edited)
      return ok(edited)
    },
    sendMessage: (params) => {
      const chatId = Number(params.chat_id)
      if (!Number.isFinite(chatId)) return apiError(400, "Bad Request: chat not found")
      const refused = refusal(chatId)
      if (refused) return refused
      const checked = checkMessage(params)
      if (!checked.ok) return apiError(400, checked.description)
      const { telegramChat } = chatOf(chatId)
      const message: TelegramMessage = {
        message_id: nextMessageId++,
        from: botInfo,
        chat: telegramChat,
        date: Math.floor(Date.now() / 1000),
        text: checked.text,
        ...(checked.entities && { entities: checked.entities }),
        ...(checked.replyMarkup && {
          reply_markup: checked.replyMarkup,
        }),
      }
      botMessages.set(`${chatId}:${message.message_id}`, message)
      messages.set(`${chatId}:${message.message_id}`, { deleted: false, fromBot: true })
      return ok(message)
    },
    deleteMessage: (params) => {
      const chatId = Number(params.chat_id)
      const refused = refusal(chatId)
      if (refused) return refused
      const entry = messages.get(`${chatId}:${Number(params.message_id)}`)
      if (!entry || entry.deleted) return apiError(400, "Bad Request: message to delete not found")
      const { chat } = chatOf(chatId)
      if (!entry.fromBot && chat.type !== "private" && !chat.botIsAdmin)
        return apiError(400, "Bad Request: message can't be deleted")
      entry.deleted = true
      return ok(true)
    },
  }

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    fetch: async (request) => {
      // Telegram counts a message when it arrives.
      const arrived = clockNow()
      const match = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(new URL(request.url).pathname)
      if (!match) return apiError(404, "Not Found")
      const [, requestToken, method = ""] = match
      let params: Record<string, unknown>
      try {
        params = await readParams(request)
      } catch {
        return apiError(400, "Bad Request: invalid request body")
      }
      for (const arrival of [...arrivals]) arrival(method, params)
      if (requestToken !== token) {
        record(method, params, 401, { description: "Unauthorized" })
        return apiError(401, "Unauthorized")
      }

      if (
        options.paidBroadcast === "refused" &&
        params.allow_paid_broadcast === true &&
        MESSAGE_METHOD.test(method)
      ) {
        paidRefusals++
        record(method, params, 400, { description: PAID_BROADCAST_REFUSED })
        return apiError(400, PAID_BROADCAST_REFUSED)
      }
      const failure = takeFailure(method)
      const flooded = failure ? undefined : flood(method, params, arrived)
      if (flooded) {
        const body = await flooded.clone().json()
        record(method, params, 429, body)
        return flooded
      }
      let response: Response
      if (failure && "hang" in failure) {
        record(method, params, 0, "hang")
        return new Promise<Response>((resolve) => {
          const release = () => resolve(apiError(502, "Bad Gateway"))
          hanging.add(release)
          request.signal.addEventListener("abort", () => hanging.delete(release))
        })
      }
      if (failure) {
        response = failure.body
          ? new Response(failure.body, {
              status: failure.status,
              headers: { "content-type": "text/html" },
            })
          : apiError(
              failure.status,
              failure.description ?? DEFAULT_DESCRIPTIONS[failure.status] ?? "Error",
              failure.retryAfter !== undefined || failure.parameters
                ? {
                    ...failure.parameters,
                    ...(failure.retryAfter !== undefined && { retry_after: failure.retryAfter }),
                  }
                : undefined,
            )
      } else {
        const handler = handlers[method]
        response = handler
          ? await handler(params, request.signal)
          : apiError(404, "Not Found: method not found")
      }
      const body = await response.clone().text()
      let parsed: unknown = body
      try {
        parsed = JSON.parse(body)
      } catch {}
      record(method, params, response.status, parsed)
      if (response.status === 200 && MESSAGE_METHOD.test(method)) accepted.push(arrived)
      return response
    },
  })

  const standIn: BotApiStandIn = {
    url: `http://127.0.0.1:${server.port}`,
    token,
    botInfo,
    calls,
    get pendingUpdates() {
      return queue.length
    },
    get floodRefusals() {
      return floodRefusals
    },
    get paidRefusals() {
      return paidRefusals
    },
    busiest(windowMs = 1_000) {
      // Answers can finish out of arrival order: sort, then slide a window over them.
      const sorted = accepted.toSorted((a, b) => a - b)
      let most = 0
      for (let first = 0, last = 0; last < sorted.length; last++) {
        while ((sorted[last] ?? 0) - (sorted[first] ?? 0) >= windowMs) first++
        most = Math.max(most, last - first + 1)
      }
      return most
    },

    chat(id, chatOptions) {
      const { chat } = chatOf(id, chatOptions.type)
      Object.assign(chat, chatOptions)
    },

    enqueue(update) {
      // update_id first: GramIO takes the update's type from its second key.
      const full = { ...update, update_id: update.update_id ?? nextUpdateId++ }
      const { update_id, ...rest } = full
      const ordered = { update_id, ...rest } as TelegramUpdate
      nextUpdateId = Math.max(nextUpdateId, update_id + 1)
      queue.push(ordered)
      answerPolls()
      pushUpdates()
      return ordered
    },

    chatMember(chatId, status, memberOptions = {}) {
      const { chat, telegramChat } = chatOf(chatId, memberOptions.type)
      const old = chat.status
      chat.status = status
      const member = (s: MemberStatus) =>
        ({ status: s, user: botInfo, until_date: 0 }) as unknown as TelegramChatMember
      return standIn.enqueue({
        my_chat_member: {
          chat: telegramChat,
          from: sender(chatId, chat.type, memberOptions.from),
          date: Math.floor(Date.now() / 1000),
          old_chat_member: member(old),
          new_chat_member: member(status),
        },
      })
    },

    migrate(fromChatId, toChatId) {
      const { chat: old, telegramChat: oldChat } = chatOf(fromChatId, "group")
      const { chat: next, telegramChat: newChat } = chatOf(toChatId, "supergroup")
      next.botIsAdmin = old.botIsAdmin
      old.migratedTo = toChatId
      const service = (chat: TelegramChat, field: Partial<TelegramMessage>) =>
        standIn.enqueue({
          message: {
            message_id: nextMessageId++,
            from: sender(fromChatId, "group"),
            chat,
            date: Math.floor(Date.now() / 1000),
            ...field,
          },
        })
      return [
        service(oldChat, { migrate_to_chat_id: toChatId }),
        service(newChat, { migrate_from_chat_id: fromChatId }),
      ]
    },

    callbackQuery(chatId, data, { messageId, from } = {}) {
      const { chat } = chatOf(chatId)
      const mine = [...botMessages.values()].filter((m) => m.chat.id === chatId)
      const message =
        messageId === undefined ? mine.at(-1) : botMessages.get(`${chatId}:${messageId}`)
      if (!message) throw new Error(`stand-in: no message of the bot in chat ${chatId} to tap`)
      const id = String(nextCallbackId++)
      callbackQueries.set(id, { answered: false })
      return standIn.enqueue({
        callback_query: {
          id,
          from: sender(chatId, chat.type, from),
          message,
          chat_instance: `ci${chatId}`,
          data,
        },
      })
    },

    botMessage(chatId, messageId) {
      return botMessages.get(`${chatId}:${messageId}`)
    },

    profile,

    message(chatId, text, messageOptions = {}) {
      return standIn.enqueue(standIn.draft(chatId, text, messageOptions))
    },

    draft(chatId, text, messageOptions = {}) {
      const { chat, telegramChat } = chatOf(chatId, messageOptions.type)
      const command = text.startsWith("/") ? (text.split(/\s/)[0] ?? "") : ""
      const message: TelegramMessage = {
        message_id: nextMessageId++,
        from: sender(chatId, chat.type, messageOptions.from),
        chat: telegramChat,
        date: Math.floor(Date.now() / 1000),
        text,
        ...(command && { entities: [{ type: "bot_command", offset: 0, length: command.length }] }),
      }
      messages.set(`${chatId}:${message.message_id}`, { deleted: false, fromBot: false })
      return { update_id: nextUpdateId++, message }
    },

    get webhook() {
      return webhook && { ...webhook }
    },
    deliveries,
    post,

    say(chatId, text, { count = 1, timeoutMs = 5_000, ...messageOptions } = {}) {
      const since = calls.length
      standIn.message(chatId, text, messageOptions)
      return standIn.replies(chatId, count, { since, timeoutMs })
    },

    async replies(chatId, count, { since = 0, timeoutMs = 5_000 } = {}) {
      const texts: string[] = []
      let from = since
      while (texts.length < count) {
        const call = await standIn.waitForCall(
          "sendMessage",
          (c) => Number(c.params.chat_id) === chatId,
          {
            since: from,
            timeoutMs,
          },
        )
        texts.push(String(call.params.text))
        from = call.index + 1
      }
      return texts
    },

    sent(chatId) {
      return calls.filter(
        (c) =>
          c.method === "sendMessage" &&
          (chatId === undefined || Number(c.params.chat_id) === chatId),
      )
    },

    waitForCall(method, predicate = () => true, { since = 0, timeoutMs = 5_000 } = {}) {
      const matches = (call: RecordedCall) =>
        call.index >= since && call.method === method && predicate(call)
      const existing = calls.find(matches)
      if (existing) return Promise.resolve(existing)
      return new Promise((resolve, reject) => {
        const waiter: Waiter = {
          matches,
          resolve: (call) => {
            clearTimeout(timer)
            resolve(call)
          },
        }
        const timer = setTimeout(() => {
          waiters.delete(waiter)
          const recent = calls.slice(-8).map((c) => `${c.method}:${c.status}`)
          reject(
            new Error(
              `stand-in: no ${method} call within ${timeoutMs} ms (recent: ${recent.join(", ")})`,
            ),
          )
        }, timeoutMs)
        waiters.add(waiter)
      })
    },

    waitForRequest(method, predicate = () => true, { timeoutMs = 5_000 } = {}) {
      const done = calls.find((c) => c.method === method && predicate(c.params))
      if (done) return Promise.resolve(done.params)
      return new Promise((resolve, reject) => {
        const arrival = (m: string, params: Record<string, unknown>) => {
          if (m !== method || !predicate(params)) return
          arrivals.delete(arrival)
          clearTimeout(timer)
          resolve(params)
        }
        const timer = setTimeout(() => {
          arrivals.delete(arrival)
          reject(new Error(`stand-in: no ${method} request within ${timeoutMs} ms`))
        }, timeoutMs)
        arrivals.add(arrival)
      })
    },

    waitForPoll() {
      if (polls.length > 0) return Promise.resolve()
      return new Promise((resolve) => pollWaiters.push(resolve))
    },

    delivered(updateId) {
      if (deliveredIds.has(updateId)) return Promise.resolve()
      return new Promise((resolve) => {
        const list = deliveredWaiters.get(updateId) ?? []
        list.push(resolve)
        deliveredWaiters.set(updateId, list)
      })
    },

    fail(method, failure, times = 1) {
      const list = failures.get(method) ?? []
      list.push({ failure, times })
      failures.set(method, list)
    },

    onCall(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },

    async close() {
      closed = true
      stopPushing.abort()
      for (const timer of retryTimers) clearTimeout(timer)
      retryTimers.clear()
      for (const poll of polls.splice(0)) {
        clearTimeout(poll.timer)
        poll.resolve(ok([]))
      }
      for (const release of hanging) release()
      hanging.clear()
      await server.stop(true)
    },
  }
  return standIn
}
