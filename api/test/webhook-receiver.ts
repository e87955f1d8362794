// A real HTTP receiver for status webhooks (Bun.serve on 127.0.0.1): records every request and
// answers from a script (default 200); tests await the n-th request instead of sleeping.
export interface Received {
  path: string
  headers: Record<string, string>
  body: string
}

export function startReceiver(script: (number | Response)[] = []) {
  const received: Received[] = []
  const waiters: { n: number; resolve: () => void }[] = []
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      received.push({
        path: new URL(request.url).pathname,
        headers: Object.fromEntries(request.headers),
        body: await request.text(),
      })
      for (const w of waiters.filter((w) => w.n <= received.length)) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve()
      }
      const next = script.shift() ?? 200
      return typeof next === "number" ? new Response("ok", { status: next }) : next
    },
  })
  return {
    url: `http://127.0.0.1:${server.port}/hooks`,
    received,
    /** Resolves once `n` requests have arrived. */
    count: (n: number) =>
      n <= received.length
        ? Promise.resolve()
        : new Promise<void>((resolve) => waiters.push({ n, resolve })),
    stop: () => server.stop(true),
  }
}
