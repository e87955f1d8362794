// The bot pipeline: the real bot process (`bun bot/src/main.ts`, as its image runs it) between the
// Bot API stand-in in this process and the real API. Each update is timed from the moment the
// stand-in hands it out in a getUpdates answer to the moment the reply's sendMessage arrives; the
// bot's own share is that minus the time the API spent on the bot's call, from the API's request
// log (one line per request, with its path and duration).
import { readFileSync, statSync } from "node:fs"
import { startBotApiStandIn } from "@nps/testing/stand-in"
import { percentile } from "./load"
import { baseEnv, cpuMs, peakRssMb, ROOT, rssMb } from "./processes"

/**
 * Timed phases, paced inside Telegram's limits (the bot keeps to 30 messages a second overall, so
 * a faster offer would only measure its waiting line): one chat at a time, at most 20 a second;
 * then bursts of 25 chats at once, one burst every 1.1 s.
 */
export const PHASES = [
  { chats: 200, atOnce: 1, everyMs: 50 },
  { chats: 1_000, atOnce: 25, everyMs: 1_100 },
] as const

export interface Timed {
  updatesPerSec: number
  p50: number
  p99: number
  /** The bot's share: total minus the API call. */
  addedP50: number
  addedP99: number
  /** The bot process's CPU time (user + system) per update, µs: its work, without the waiting. */
  cpuUs: number
  errors: number
}

export interface BotRun {
  startupMs: number
  phases: Timed[]
  /** With every chat's /status queued at once (the last run only: it takes minutes at 30/s). */
  burst?: { chats: number; perSec: number; rssMb: number; peakRssMb: number }
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
  /** Also queue every chat's /status at once, then read the bot's memory. */
  burst: boolean
}

export async function runBot(options: BotOptions): Promise<BotRun> {
  const { apiOrigin, serviceKey, chats, logFile, apiLogFile, burst } = options
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
      cpuUs: number
      errors: number
    }[] = []
    let offset = 0
    for (const phase of PHASES) {
      // A quiet second first: the previous phase's replies count against Telegram's 30 a second
      // for a second after they are sent, and would hold this phase's first replies back.
      await Bun.sleep(1_000)
      const timed = chats.slice(offset, offset + phase.chats)
      offset += phase.chats
      const totals = new Map<number, number>()
      let errors = 0
      const phaseStart = performance.now()
      const cpuBefore = cpuMs(bot.pid)
      // Group after group of `atOnce` chats, each group started `everyMs` after the previous one
      // and once its replies are all in.
      for (let from = 0; from < timed.length; from += phase.atOnce) {
        const groupStart = performance.now()
        await Promise.all(
          timed.slice(from, from + phase.atOnce).map(async (chat) => {
            const [deliveredAt, repliedAt, text] = await status(chat)
            if (!text.includes("bench_user_")) errors++
            totals.set(chat, repliedAt - deliveredAt)
          }),
        )
        const rest = phase.everyMs - (performance.now() - groupStart)
        if (rest > 0) await Bun.sleep(rest)
      }
      phases.push({
        chats: timed,
        totals,
        seconds: (performance.now() - phaseStart) / 1000,
        cpuUs: ((cpuMs(bot.pid) - cpuBefore) * 1000) / timed.length,
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
    const timed = phases.map(({ chats: sent, totals, seconds, cpuUs, errors }): Timed => {
      const sorted = [...totals.values()].sort((a, b) => a - b)
      const added = [...totals].map(([chat, total]) => total - (apiMs.get(chat) ?? 0))
      added.sort((a, b) => a - b)
      return {
        updatesPerSec: sent.length / seconds,
        p50: percentile(sorted, 0.5),
        p99: percentile(sorted, 0.99),
        addedP50: percentile(added, 0.5),
        addedP99: percentile(added, 0.99),
        cpuUs,
        errors: errors + sent.filter((chat) => !apiMs.has(chat)).length,
      }
    })

    // Memory: every chat's /status queued at once, replied to at Telegram's 30 a second.
    let burstRun: BotRun["burst"]
    if (burst) {
      await Bun.sleep(1_000)
      const burstStart = performance.now()
      await Promise.all(chats.map((chat) => status(chat)))
      burstRun = {
        chats: chats.length,
        perSec: chats.length / ((performance.now() - burstStart) / 1000),
        rssMb: rssMb(bot.pid),
        peakRssMb: peakRssMb(bot.pid),
      }
    }
    return { startupMs, phases: timed, burst: burstRun }
  } finally {
    bot.kill("SIGTERM")
    await bot.exited
    await standIn.close()
  }
}
