// Giving up on the NPS API at the drain deadline: every call, waiting or new, is "unavailable".
import type { NpsApi } from "./api-client"

/** The same API, except that once `signal` aborts every call (waiting or new) is "unavailable". */
export function abandonable(api: NpsApi, signal: AbortSignal): NpsApi {
  const unavailable = { kind: "unavailable" } as const
  const abandoned = new Promise<typeof unavailable>((resolve) =>
    signal.addEventListener("abort", () => resolve(unavailable), { once: true }),
  )
  // Every NpsApi result type includes { kind: "unavailable" } (api-client.ts Failure).
  return Object.fromEntries(
    Object.entries(api).map(([name, call]: [string, (...args: unknown[]) => Promise<unknown>]) => [
      name,
      (...args: unknown[]) =>
        signal.aborted ? Promise.resolve(unavailable) : Promise.race([call(...args), abandoned]),
    ]),
  ) as unknown as NpsApi
}
