// Bun's Redis client reports a refused AUTH as "Connection closed", which reads like a network
// fault and sends an operator looking in the wrong place. When a connection fails and the URL
// carries credentials, the server is asked directly (a bare AUTH on a socket of our own) so the
// log can say in words that the credentials were refused. Never logs or returns the password.

const resp = (parts: string[]) =>
  `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join("")}`

/** The server's first reply line to AUTH with the URL's credentials, or undefined. */
async function authReply(url: URL, timeoutMs: number): Promise<string | undefined> {
  const password = decodeURIComponent(url.password)
  if (!password) return undefined
  const user = decodeURIComponent(url.username)
  const { promise, resolve } = Promise.withResolvers<string | undefined>()
  const timer = setTimeout(() => resolve(undefined), timeoutMs)
  let received = ""
  try {
    const socket = await Bun.connect({
      hostname: url.hostname,
      port: Number(url.port || 6379),
      tls: url.protocol === "rediss:",
      socket: {
        data(_, chunk) {
          received += chunk.toString()
          const end = received.indexOf("\r\n")
          if (end >= 0) resolve(received.slice(0, end))
        },
        close: () => resolve(undefined),
        error: () => resolve(undefined),
      },
    })
    socket.write(resp(user ? ["AUTH", user, password] : ["AUTH", password]))
    const reply = await promise
    socket.end()
    return reply
  } catch {
    return undefined
  } finally {
    clearTimeout(timer)
  }
}

/**
 * "authentication failed: …" when Redis refuses the URL's user name or password; undefined when
 * it accepts them, there are none, or it cannot be asked.
 */
export async function authFailure(url: string, timeoutMs: number): Promise<string | undefined> {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return undefined
  }
  const reply = await authReply(parsed, timeoutMs)
  if (!reply?.startsWith("-")) return undefined
  // WRONGPASS (Redis 6+ ACLs), "ERR invalid password" (older), "ERR … no password is set".
  if (/WRONGPASS|invalid (username-)?password|password/i.test(reply))
    return "authentication failed: Redis refused the user name or password in REDIS_URL"
  return undefined
}
