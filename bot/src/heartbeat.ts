// The one heartbeat: each time the bot has shown it can hear Telegram (a getUpdates that
// succeeded, or a webhook receiver that is registered and serving) it records the moment — the
// nps_bot_last_poll_success_timestamp_seconds gauge — and touches HEARTBEAT_FILE, which the
// image's healthcheck reads.
import { rm, writeFile } from "node:fs/promises"
import { describeError, type Logger } from "@nps/log"

export interface Heartbeat {
  /** Telegram was heard now. */
  beat(): Promise<void>
  /** When it was last heard (ms since the epoch), undefined before the first time. */
  readonly lastAt: number | undefined
  /** Removes a file left by an earlier process: health is this process's to earn. */
  clear(): Promise<void>
}

export function createHeartbeat({
  file,
  logger,
  now = Date.now,
}: {
  file: string | undefined
  logger: Logger
  now?: () => number
}): Heartbeat {
  let lastAt: number | undefined
  let warned = false
  return {
    async beat() {
      lastAt = now()
      if (!file) return
      try {
        await writeFile(file, new Date(lastAt).toISOString())
      } catch (error) {
        // Once: a read-only volume would otherwise fill the log every poll.
        if (!warned)
          logger.warn("could not write the heartbeat file", { error: describeError(error) })
        warned = true
      }
    },
    get lastAt() {
      return lastAt
    },
    async clear() {
      if (!file) return
      await rm(file, { force: true }).catch((error) =>
        logger.error("could not remove the previous heartbeat file", {
          error: describeError(error),
        }),
      )
    },
  }
}
