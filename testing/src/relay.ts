// A TCP relay between the API and Postgres that a test can freeze (connections stay open, no
// byte passes: a SIGSTOPped server or a dead network path), thaw, cut (connections closed) or
// close (nothing listens: connection refused). One real Postgres, no second server.
import type { Socket, TCPSocketListener } from "bun"

interface Pipe {
  /** Bytes not yet written, oldest first. */
  queue: Uint8Array[]
  socket?: Socket<Pair>
}
interface Pair {
  down: Pipe // towards the API
  up: Pipe // towards Postgres
}

// Writes what it can now; the rest waits for `drain` (or for thaw).
function flush(pipe: Pipe) {
  const socket = pipe.socket
  while (socket && pipe.queue.length) {
    const chunk = pipe.queue[0] as Uint8Array
    const written = socket.write(chunk)
    if (written < chunk.length) {
      pipe.queue[0] = chunk.subarray(Math.max(0, written))
      return
    }
    pipe.queue.shift()
  }
}

export function startRelay(target: { hostname: string; port: number }) {
  let frozen = false
  let listener: TCPSocketListener<Pair> | undefined
  const pairs = new Set<Pair>()
  const send = (pipe: Pipe, chunk: Uint8Array) => {
    pipe.queue.push(new Uint8Array(chunk))
    if (!frozen) flush(pipe)
  }

  const listen = (port: number) =>
    Bun.listen<Pair>({
      hostname: "127.0.0.1",
      port,
      socket: {
        open(client) {
          const pair: Pair = { down: { queue: [], socket: client }, up: { queue: [] } }
          client.data = pair
          pairs.add(pair)
          void Bun.connect<Pair>({
            hostname: target.hostname,
            port: target.port,
            data: pair,
            socket: {
              open(upstream) {
                pair.up.socket = upstream
                if (!frozen) flush(pair.up)
              },
              data: (_, chunk) => send(pair.down, chunk),
              drain: () => {
                if (!frozen) flush(pair.up)
              },
              close: () => {
                client.end()
              },
              error: () => {
                client.end()
              },
            },
          }).catch(() => client.end())
        },
        data: (client, chunk) => send(client.data.up, chunk),
        drain: (client) => {
          if (!frozen) flush(client.data.down)
        },
        close(client) {
          pairs.delete(client.data)
          client.data.up.socket?.end()
        },
      },
    })

  listener = listen(0)
  const port = listener.port
  return {
    port,
    freeze() {
      frozen = true
    },
    thaw() {
      frozen = false
      for (const pair of pairs) {
        flush(pair.up)
        flush(pair.down)
      }
    },
    /** Closes every connection; new ones are still accepted. */
    cut() {
      for (const pair of pairs) {
        pair.down.socket?.end()
        pair.up.socket?.end()
      }
    },
    /** Closes every connection and stops listening: connections are refused. */
    close() {
      listener?.stop(true)
      listener = undefined
      this.cut()
    },
    /** Listens again on the same port. */
    reopen() {
      frozen = false
      listener ??= listen(port)
    },
  }
}
