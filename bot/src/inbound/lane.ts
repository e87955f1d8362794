// Which lane an update runs in. Its own module, free of dependencies, because the Bot API stand-in
// uses it too and runs in a container from the bare repository (no node_modules).
import type { TelegramUpdate } from "@gramio/types"

/** The chat an update belongs to; updates without one share a lane keyed by the sender. */
export function laneKey(update: TelegramUpdate): string {
  for (const [key, value] of Object.entries(update)) {
    if (key === "update_id" || typeof value !== "object" || value === null) continue
    const payload = value as {
      chat?: { id?: number }
      message?: { chat?: { id?: number } }
      from?: { id?: number }
    }
    const chatId = payload.chat?.id ?? payload.message?.chat?.id
    if (chatId !== undefined) return `chat:${chatId}`
    if (payload.from?.id !== undefined) return `user:${payload.from.id}`
  }
  return "none"
}
