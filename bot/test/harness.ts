// Shared plumbing for the bot's tests: the Bot API stand-in, the real API app on a fresh
// database (PGlite in memory; Postgres too when TEST_DATABASE_URL is set), and a bot wired to both
// with a logger whose lines are kept for assertions.

import { afterAll, beforeAll } from "bun:test"
import { fileURLToPath } from "node:url"
import type { Database, Db } from "@nps/db"
import { createLogger, type Logger } from "@nps/log"
import { makeApp, openTestDatabase, seedServiceKey, seedUser } from "@nps/testing/api"
import { type BotApiStandIn, type StandInOptions, startBotApiStandIn } from "@nps/testing/stand-in"
import {
  type ApiClientOptions,
  createApiClient,
  type DeliveryReport,
  type NpsApi,
} from "../src/api-client"
import { type CreateBotOptions, createBot, type NpsBot } from "../src/bot"
import { createPacer, type PacerLimits } from "../src/outbound/pacer"

export { drivers, seedProfiles, seedReadings, seedUser } from "@nps/testing/api"

export interface CapturedLogs {
  logger: Logger
  lines: string[]
  text(): string
  /** Parsed lines with this msg. */
  find(msg: string): Record<string, unknown>[]
}

export function captureLogs(secrets: (string | undefined)[] = []): CapturedLogs {
  const lines: string[] = []
  const logger = createLogger({
    service: "bot",
    level: "debug",
    write: (line) => lines.push(line),
    secrets,
  })
  return {
    logger,
    lines,
    text: () => lines.join("\n"),
    find: (msg) => lines.map((line) => JSON.parse(line)).filter((record) => record.msg === msg),
  }
}

/**
 * No outbound limits: the command tests send many replies to one chat in a second, which
 * Telegram's 1-a-second pacing would spread over many seconds. The delivery tests use the real
 * limits against a stand-in that enforces them.
 */
export const NO_LIMITS: PacerLimits = {
  overall: { limit: 1_000_000, windowMs: 1 },
  privateChat: { limit: 1_000_000, windowMs: 1 },
  groupChat: { limit: 1_000_000, windowMs: 1 },
  deliveriesPerSecond: 1_000_000,
}

/** PGlite's first boot in a process compiles its WebAssembly: allow it more than bun's 5 s. */
export const DB_TIMEOUT = 30_000

/** The real API, in-process, on its own migrated database, with a seeded service key. */
export interface RealApi {
  db: Db
  app: ReturnType<typeof makeApp>["app"]
  serviceKey: string
  close(): Promise<void>
}

export async function openRealApi(
  driver: "pglite" | "postgres" = "pglite",
  options: Parameters<typeof makeApp>[1] = {},
): Promise<RealApi> {
  const database: Database = await openTestDatabase(driver)
  const { app } = makeApp(database.db, { listen: database.listen, ...options })
  const service = await seedServiceKey(database.db)
  return { db: database.db, app, serviceKey: service.key, close: () => database.close() }
}

/** The bot's real API client, calling the in-process API with its service key. */
export const inProcessApi = (
  realApi: RealApi,
  logger: Logger,
  options: Partial<Pick<ApiClientOptions, "metrics">> = {},
): NpsApi =>
  createApiClient({
    baseUrl: "http://in-process/api",
    app: realApi.app,
    serviceKey: realApi.serviceKey,
    logger,
    ...options,
  })

/**
 * For a describe block: the real API on `driver`, opened before its tests and closed after, and
 * the key of a user (`username`) allowed to send notifications.
 */
export function realApiWithNotifier(driver: "pglite" | "postgres", username: string) {
  const suite = {} as { realApi: RealApi; notifier: string }
  beforeAll(async () => {
    suite.realApi = await openRealApi(driver)
    suite.notifier = (
      await seedUser(suite.realApi.db, { username, scopes: ["telegram:notify"] })
    ).key
  }, DB_TIMEOUT)
  afterAll(async () => {
    await suite.realApi.close()
  })
  return suite
}

/** The real API client, telling the test as each report lands. */
export function watched(realApi: RealApi) {
  const reported: DeliveryReport[] = []
  const waiters: { count: number; resolve: () => void }[] = []
  const factory = (logger: Logger): NpsApi => {
    const inner = inProcessApi(realApi, logger)
    return {
      ...inner,
      report: async (results) => {
        const result = await inner.report(results)
        if (result.kind === "ok") {
          reported.push(...results)
          for (const w of waiters.filter((w) => reported.length >= w.count)) {
            waiters.splice(waiters.indexOf(w), 1)
            w.resolve()
          }
        }
        return result
      },
    }
  }
  /** Resolves once `count` results have been recorded by the API in all. */
  const settledCount = (count: number) =>
    reported.length >= count
      ? Promise.resolve()
      : new Promise<void>((resolve) => waiters.push({ count, resolve }))
  return { factory, reported, settledCount }
}

export interface Harness {
  standIn: BotApiStandIn
  nps: NpsBot
  logs: CapturedLogs
  close(): Promise<void>
}

export interface HarnessOptions
  extends Partial<Omit<CreateBotOptions, "config" | "api" | "logger">> {
  api?: NpsApi
  /** Builds the API the bot uses from the harness logger. */
  apiFactory?: (logger: Logger) => NpsApi
  realApi?: RealApi
  rateLimit?: number
  heartbeatFile?: string
  standIn?: BotApiStandIn
  standInOptions?: StandInOptions
  /** Leave the bot unstarted (tests that drive start() themselves). */
  start?: boolean
}

/** A started bot polling a fresh stand-in. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const standIn = options.standIn ?? (await startBotApiStandIn(options.standInOptions))
  const logs = captureLogs([standIn.token, options.realApi?.serviceKey])
  const api =
    options.api ??
    options.apiFactory?.(logs.logger) ??
    (options.realApi ? inProcessApi(options.realApi, logs.logger) : unreachableApi())
  const {
    api: _api,
    apiFactory: _apiFactory,
    realApi: _realApi,
    standIn: _standIn,
    standInOptions: _standInOptions,
    rateLimit = 20,
    heartbeatFile,
    start = true,
    ...rest
  } = options
  const nps = createBot({
    config: { token: standIn.token, rateLimit, telegramApiRoot: standIn.url, heartbeatFile },
    api,
    logger: logs.logger,
    pacer: createPacer({ limits: NO_LIMITS }),
    ...rest,
  })
  if (start) await nps.start()
  return {
    standIn,
    nps,
    logs,
    close: async () => {
      await nps.stop()
      if (!options.standIn) await standIn.close()
    },
  }
}

/** An NpsApi whose every call reports the API as unreachable. */
export function unreachableApi(): NpsApi {
  const down = async () => ({ kind: "unavailable" }) as const
  return {
    link: down,
    redeem: down,
    status: down,
    profiles: down,
    unlink: down,
    setBlocked: down,
    migrate: down,
    lease: down,
    report: down,
    preferences: down,
    updatePreferences: down,
    reportLanguageCode: down,
  }
}

/** A promise with its resolver, for holding a handler mid-flight. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

/** Resolves once the bot has polled past `update` and finished everything it dispatched. */
export async function settled(h: Harness, update: { update_id: number }) {
  await h.standIn.waitForRequest("getUpdates", (params) => Number(params.offset) > update.update_id)
  await h.nps.idle()
}

/** Every text the bot sent (sendMessage) to a chat. */
export const textsTo = (standIn: BotApiStandIn, chatId: number) =>
  standIn.sent(chatId).map((call) => String(call.params.text))

const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url))
const ROOT = fileURLToPath(new URL("../..", import.meta.url))

export interface BotProcess {
  proc: Bun.Subprocess<"ignore", "pipe", "pipe">
  lines: string[]
  /** Resolves once both output streams have ended (every line is in `lines`). */
  drained: Promise<void>
  /** Resolves with the `count`-th log record (parsed) matching. */
  waitForLog(
    predicate: (record: Record<string, unknown>) => boolean,
    timeoutMs?: number,
    count?: number,
  ): Promise<Record<string, unknown>>
}

/** `bun bot/src/main.ts` as a real process with only `env`; its output kept line by line. */
export function spawnBot(env: Record<string, string>, args: string[] = []): BotProcess {
  const proc = Bun.spawn(["bun", MAIN, ...args], {
    cwd: ROOT,
    // Nothing inherited but what bun needs: the test's own environment must not leak in.
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  })
  const lines: string[] = []
  const listeners = new Set<() => void>()
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    let buffer = ""
    const decoder = new TextDecoder()
    for await (const chunk of stream) {
      buffer += decoder.decode(chunk, { stream: true })
      let newline = buffer.indexOf("\n")
      while (newline >= 0) {
        lines.push(buffer.slice(0, newline))
        buffer = buffer.slice(newline + 1)
        newline = buffer.indexOf("\n")
      }
      for (const listener of listeners) listener()
    }
  }
  const drained = Promise.all([pump(proc.stdout), pump(proc.stderr)]).then(() => {})
  const parsed = () =>
    lines.flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>]
      } catch {
        return []
      }
    })
  return {
    proc,
    lines,
    drained,
    waitForLog: (predicate, timeoutMs = 5_000, count = 1) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = parsed().filter(predicate)[count - 1]
          if (!found) return
          listeners.delete(check)
          clearTimeout(timer)
          resolve(found)
        }
        const timer = setTimeout(() => {
          listeners.delete(check)
          reject(new Error(`no matching log line; got:\n${lines.join("\n")}`))
        }, timeoutMs)
        listeners.add(check)
        check()
      }),
  }
}
