// /timezone <IANA zone>: the zone quiet hours and mute times are read in.
import { type CommandDeps, type CommandHandler, failureReply } from "./context"

/** The zone's canonical IANA name ("europe/berlin" → "Europe/Berlin"), or undefined. */
export function canonicalZone(zone: string): string | undefined {
  if (zone.length > 64) return undefined
  try {
    return new Intl.DateTimeFormat("en", { timeZone: zone }).resolvedOptions().timeZone
  } catch {
    return undefined
  }
}

export const timezoneCommand =
  ({ api }: CommandDeps): CommandHandler =>
  async (ctx, t) => {
    const zone = ctx.args?.trim().split(/\s+/)[0]
    if (!zone) {
      await ctx.send(t.timezoneUsage())
      return "usage"
    }
    const canonical = canonicalZone(zone)
    if (!canonical) {
      await ctx.send(t.timezoneUnknown(zone))
      return "unknown_time_zone"
    }
    const result = await api.updatePreferences(ctx.chatId, { time_zone: canonical })
    const { reply, outcome } =
      result.kind === "ok"
        ? { reply: t.timezoneSet(result.preferences.time_zone), outcome: "time_zone_set" }
        : result.kind === "invalid_time_zone"
          ? { reply: t.timezoneUnknown(zone), outcome: "unknown_time_zone" }
          : result.kind === "not_linked"
            ? { reply: t.notLinked(), outcome: "not_linked" }
            : failureReply(result.kind, t)
    await ctx.send(reply)
    return outcome
  }
