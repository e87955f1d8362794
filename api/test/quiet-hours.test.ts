// Quiet hours in the user's own time zone: inside or not, and when they end — across midnight
// and across a daylight-saving change (the end is a local wall-clock time, not a fixed offset).
import { expect, test } from "bun:test"
import { canonicalZone, quietUntil } from "../src/modules/preferences/quiet-hours"

const night = { start: "22:00", end: "08:00" }
const until = (at: string, zone: string, quiet = night) =>
  quietUntil(new Date(at), zone, quiet)?.toISOString()

test("inside quiet hours: they end at the local end time; outside: no wait", () => {
  // 23:30 in Madrid (UTC+2 in May) → 08:00 Madrid = 06:00Z.
  expect(until("2026-05-01T21:30:00Z", "Europe/Madrid")).toBe("2026-05-02T06:00:00.000Z")
  // 07:59 → a minute later.
  expect(until("2026-05-02T05:59:00Z", "Europe/Madrid")).toBe("2026-05-02T06:00:00.000Z")
  expect(until("2026-05-02T06:00:00Z", "Europe/Madrid")).toBeUndefined()
  expect(until("2026-05-01T19:59:59Z", "Europe/Madrid")).toBeUndefined() // 21:59:59
  // A window within one day, in another zone.
  const lunch = { start: "12:00", end: "13:30" }
  expect(until("2026-05-01T03:15:00Z", "Asia/Tokyo", lunch)).toBe("2026-05-01T04:30:00.000Z")
  expect(until("2026-05-01T05:00:00Z", "Asia/Tokyo", lunch)).toBeUndefined()
})

test("the nights the clocks change, quiet hours still end at 08:00 local", () => {
  // Madrid leaves summer time on 2026-10-25 (03:00 CEST → 02:00 CET): 08:00 CET = 07:00Z.
  expect(until("2026-10-24T21:00:00Z", "Europe/Madrid")).toBe("2026-10-25T07:00:00.000Z")
  // …and the night they go forward (2026-03-29, 02:00 CET → 03:00 CEST): 08:00 CEST = 06:00Z.
  expect(until("2026-03-28T22:00:00Z", "Europe/Madrid")).toBe("2026-03-29T06:00:00.000Z")
})

test("time zones are IANA names, canonicalised; offsets and unknown names are refused", () => {
  expect(canonicalZone("europe/madrid")).toBe("Europe/Madrid")
  expect(canonicalZone("UTC")).toBe("UTC")
  expect(canonicalZone("America/Argentina/Buenos_Aires")).toBe("America/Argentina/Buenos_Aires")
  for (const zone of ["Mars/Olympus", "+05:00", "", "Europe/Madrid\u0000", "x".repeat(65)])
    expect(canonicalZone(zone)).toBeUndefined()
})
