// What time alone changes (expiry, send_at) must happen even while no bot is leasing: otherwise an
// expired notification would stay queued, and its sender's status webhook never fire, until
// someone asked for it. The lease does the same on its own path; this runs every few seconds.
import type { Db } from "@nps/db"
import type { Sweep } from "../../sweeper"
import { finishNotifications, settleDue } from "./status"

export const SETTLE_EVERY_MS = 2_000

export const settleSweep: Sweep = {
  name: "notification_settle",
  async step(tx: Db, _batch: number, now: Date) {
    const touched = await settleDue(tx, now)
    await finishNotifications(tx, touched, now)
    // One pass settles everything due: report no full batch, so the sweeper does not repeat it.
    return 0
  },
}
