// The bot pipeline: the real bot process (`bun bot/src/main.ts`, as its image runs it) between the
// Bot API stand-in in this process and the real API. Each update is timed from the moment the
// stand-in hands it out in a getUpdates answer to the moment the reply's sendMessage arrives; the
// bot's own share is that minus the time the API spent on the bot's call, from the API's request
// log (one line per request, with its path and duration).
import { readFileSync, statSync } from "node:fs"
import { startBotApiStandIn } from "../bot/src/stand-in"
import { percentile } from "./load"
import { baseEnv, peakRssMb, ROOT, rssMb } from "./processes"

/** Timed phases: how many chats send /status, and how many of them are in flight at once. */
export const PHASES = [
  { chats: 200, inFlight: 1 },
  { chats: 1_000, inFlight: 16 },
] as const

export interface Timed {
  updatesPerSec: number
  p50: number
  p99: number
  /** The bot's share: total minus the API call. */
  addedP50: number
  addedP99: number
  errors: number
}

export interface BotRun {
  startupMs: number
  phases: Timed[]
  /** Updates/s with every chat's /status queued at once. */
  burstPerSec: number
  /** After a /status from every one of `chats` chats. */
  rssMb: number
  peakRssMb: number
}

export interface BotOptions {
  apiOrigin: string
  serviceKey: string
  /** Linked chats: each timed phase takes its own, then all of them feed the memory phase. */
  chats: number[]
  /** Where the bot's output goes. */
  logFile: string
  /** The API's request log. */
  apiLogFile: string
}

export async function runBot(options: BotOptions): Promise<BotRun> {
  const { apiOrigin, serviceKey, chats, logFile, apiLogFile } = options
  const standIn = await startBotApiStandIn()
  const replies = new Map<number, (at: number, text: string) => void>()
  standIn.onCall((call) => {
    if (call.method !== "sendMessage") return
    replies.get(Number(call.params.chat_id))?.(performance.now(), String(call.params.text))
  })
  const started = performance.now()
  const bot = Bun.spawn(["bun", "bot/src/main.ts"], {
    cwd: ROOT,
    env: {
      ...baseEnv(),
      NODE_ENV: "production",
      BUN_JSC_useJIT: "0",
      NPS_BOT_TOKEN: standIn.token,
      TELEGRAM_API_ROOT: standIn.url,
      TELEGRAM_BOT_API_URL: `${apiOrigin}/api`,
      TELEGRAM_BOT_SERVICE_KEY: serviceKey,
      LOG_LEVEL: "info",
    },
    stdout: Bun.file(logFile),
    stderr: "inherit",
  })
  try {
    await standIn.waitForPoll()
    const startupMs = performance.now() - started
    const apiLogFrom = statSync(apiLogFile).size

    /** Sends /status from a chat; resolves with [delivered at, replied at, reply text]. */
    const status = (chat: number) =>
      new Promise<[number, number, string]>((resolve) => {
        let deliveredAt = Number.NaN
        replies.set(chat, (at, text) => {
          replies.delete(chat)
          resolve([deliveredAt, at, text])
        })
        const update = standIn.message(chat, "/status")
        void standIn.delivered(update.update_id).then(() => {
          deliveredAt = performance.now()
        })
      })

    const phases: {
      chats: number[]
      totals: Map<number, number>
      seconds: number
      errors: number
    }[] = []
    let offset = 0
    for (const phase of PHASES) {
      const timed = chats.slice(offset, offset + phase.chats)
      offset += phase.chats
      const totals = new Map<number, number>()
      let errors = 0
      let next = 0
      const phaseStart = performance.now()
      await Promise.all(
        Array.from({ length: phase.inFlight }, async () => {
          while (next < timed.length) {
            const chat = timed[next++] as number
            const [deliveredAt, repliedAt, text] = await status(chat)
            if (!text.includes("bench_user_")) errors++
            totals.set(chat, repliedAt - deliveredAt)
          }
        }),
      )
      phases.push({
        chats: timed,
        totals,
        seconds: (performance.now() - phaseStart) / 1000,
        errors,
      })
    }

    // The time the API spent on each timed chat's status call (each chat calls once per phase).
    const apiMs = new Map<number, number>()
    const apiLog = readFileSync(apiLogFile).subarray(apiLogFrom).toString("utf8")
    for (const line of apiLog.split("\n")) {
      if (!line.includes("/api/telegram/status/")) continue
      const entry = JSON.parse(line) as { path: string; duration_ms: number }
      const chat = Number(entry.path.slice("/api/telegram/status/".length))
      if (!apiMs.has(chat)) apiMs.set(chat, entry.duration_ms)
    }
    const timed = phases.map(({ chats: sent, totals, seconds, errors }): Timed => {
      const sorted = [...totals.values()].sort((a, b) => a - b)
      const added = [...totals].map(([chat, total]) => total - (apiMs.get(chat) ?? 0))
      added.sort((a, b) => a - b)
      return {
        updatesPerSec: sent.length / seconds,
        p50: percentile(sorted, 0.5),
        p99: percentile(sorted, 0.99),
        addedP50: percentile(added, 0.5),
        addedP99: percentile(added, 0.99),
        errors: errors + sent.filter((chat) => !apiMs.has(chat)).length,
      }
    })

    // Memory: every chat's /status queued at once, then the bot's resident memory.
    const burstStart = performance.now()
    await Promise.all(chats.map((chat) => status(chat)))
    const burstPerSec = chats.length / ((performance.now() - burstStart) / 1000)

    return {
      startupMs,
      phases: timed,
      burstPerSec,
      rssMb: rssMb(bot.pid),
      peakRssMb: peakRssMb(bot.pid),
    }
  } finally {
    bot.kill("SIGTERM")
    await bot.exited
    await standIn.close()
  }
}
