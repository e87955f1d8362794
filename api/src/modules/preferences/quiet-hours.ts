// Local time in a user's IANA time zone, through Intl (no time zone database of our own): whether
// an instant falls in their quiet hours, and when those end.

const formatters = new Map<string, Intl.DateTimeFormat>()

// An IANA name (Area/Location, Etc/GMT+5, UTC), not the bare offsets Intl also accepts.
const ZONE_NAME = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/

/** The zone's canonical name ("europe/moscow" → "Europe/Moscow"), or undefined when unknown. */
export function canonicalZone(zone: string): string | undefined {
  if (zone.length > 64 || !ZONE_NAME.test(zone)) return undefined
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: zone }).resolvedOptions().timeZone
  } catch {
    return undefined
  }
}

function formatter(zone: string) {
  let f = formatters.get(zone)
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      hour: "2-digit",
      minute: "2-digit",
    })
    formatters.set(zone, f)
  }
  return f
}

/** Minutes since local midnight at `at` in `zone`. */
function localMinutes(at: Date, zone: string): number {
  let hour = 0
  let minute = 0
  for (const part of formatter(zone).formatToParts(at)) {
    if (part.type === "hour") hour = Number(part.value)
    if (part.type === "minute") minute = Number(part.value)
  }
  return hour * 60 + minute
}

const toMinutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5))

const inWindow = (m: number, start: number, end: number) =>
  start < end ? m >= start && m < end : m >= start || m < end

export interface QuietHours {
  start: string
  end: string
}

/**
 * When the quiet hours around `now` end, or undefined when `now` is outside them. The end is
 * found in local minutes, then corrected for a change of offset in between (daylight saving).
 */
export function quietUntil(now: Date, zone: string, quiet: QuietHours): Date | undefined {
  const start = toMinutes(quiet.start)
  const end = toMinutes(quiet.end)
  const m = localMinutes(now, zone)
  if (!inWindow(m, start, end)) return undefined
  const minuteStart = now.getTime() - (now.getTime() % 60_000)
  let at = minuteStart + ((end - m + 1440) % 1440 || 1440) * 60_000
  for (let i = 0; i < 2; i++) {
    const drift = (end - localMinutes(new Date(at), zone) + 1440) % 1440
    if (drift === 0) break
    if (drift <= 720) at += drift * 60_000
    else {
      // Overshot (the clocks went forward in between): step back, unless that lands inside
      // the window again (the end time itself fell in the skipped hour).
      const back = at - (1440 - drift) * 60_000
      if (inWindow(localMinutes(new Date(back), zone), start, end)) break
      at = back
    }
  }
  // Never an end still inside the window (an odd transition): on by the hour until out.
  while (inWindow(localMinutes(new Date(at), zone), start, end)) at += 60 * 60_000
  return new Date(at)
}
