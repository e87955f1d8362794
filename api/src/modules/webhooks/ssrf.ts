// Where status webhooks may go: public https endpoints only. The host is resolved and every
// address checked before any socket opens, at registration and again before each send (DNS can
// change). The resolver is injected so tests prove a refusal without a packet leaving.
import { lookup } from "node:dns/promises"
import { isIP } from "node:net"
import { ApiError } from "../../errors"

/** Every address a host name resolves to (an IP literal is never passed in). */
export type Resolver = (host: string) => Promise<string[]>

const DNS_TIMEOUT_MS = 5_000

/** The system's resolver, given at most 5 s (getaddrinfo can hang much longer). */
export const systemResolver: Resolver = async (host) => {
  let timer: Timer | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("DNS lookup timed out")), DNS_TIMEOUT_MS)
  })
  try {
    const answer = await Promise.race([lookup(host, { all: true, verbatim: true }), timeout])
    return answer.map((a) => a.address)
  } finally {
    clearTimeout(timer)
  }
}

const urlNotAllowed = (why: string) =>
  new ApiError(422, "url_not_allowed", `Webhook URL not allowed: ${why}`)

// IPv4 ranges no webhook may reach: [network, prefix length].
const V4_BLOCKED: [string, number][] = [
  ["0.0.0.0", 8], // "this network", 0.0.0.0 itself
  ["10.0.0.0", 8], // RFC 1918
  ["100.64.0.0", 10], // carrier-grade NAT
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local, cloud metadata (169.254.169.254)
  ["172.16.0.0", 12], // RFC 1918
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.168.0.0", 16], // RFC 1918
  ["198.18.0.0", 15], // benchmarking
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, broadcast
]

const v4Number = (ip: string) => ip.split(".").reduce((n, part) => n * 256 + Number(part), 0)

function v4Blocked(ip: string): boolean {
  const n = v4Number(ip)
  return V4_BLOCKED.some(([net, bits]) => {
    const size = 2 ** (32 - bits)
    return Math.floor(n / size) === Math.floor(v4Number(net) / size)
  })
}

/** The eight 16-bit groups of an IPv6 address (an embedded IPv4 tail included). */
function v6Groups(ip: string): number[] {
  let text = ip.toLowerCase().replace(/%.*$/, "")
  const tail = text.match(/(\d+\.\d+\.\d+\.\d+)$/)?.[1]
  if (tail) {
    const n = v4Number(tail)
    text = `${text.slice(0, -tail.length)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`
  }
  const [head = "", rest] = text.split("::")
  const left = head ? head.split(":") : []
  const right = rest ? rest.split(":") : []
  const middle = rest === undefined ? [] : Array(8 - left.length - right.length).fill("0")
  return [...left, ...middle, ...right].map((g) => Number.parseInt(g, 16) || 0)
}

function v6Blocked(ip: string): boolean {
  const g = v6Groups(ip)
  const [a = 0, b = 0, , , , f = 0, h6 = 0, h7 = 0] = g
  const zeroUpTo = (n: number) => g.slice(0, n).every((x) => x === 0)
  const v4 = `${h6 >> 8}.${h6 & 255}.${h7 >> 8}.${h7 & 255}`
  if (zeroUpTo(8)) return true // ::
  if (zeroUpTo(7) && h7 === 1) return true // ::1 loopback
  if (zeroUpTo(5) && f === 0xffff) return v4Blocked(v4) // IPv4-mapped
  if (zeroUpTo(6)) return v4Blocked(v4) // IPv4-compatible (deprecated)
  if (a === 0x64 && b === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return v4Blocked(v4) // NAT64
  if ((a & 0xfe00) === 0xfc00) return true // ULA fc00::/7 (fd00:ec2::254 metadata included)
  if ((a & 0xffc0) === 0xfe80) return true // link-local
  if ((a & 0xff00) === 0xff00) return true // multicast
  return false
}

/** True for loopback, private, link-local, CGNAT, metadata and other non-public addresses. */
export function isPrivateAddress(ip: string): boolean {
  const family = isIP(ip)
  if (family === 4) return v4Blocked(ip)
  if (family === 6) return v6Blocked(ip)
  return true // not an address at all: refuse rather than guess
}

export interface UrlPolicy {
  allowPrivate: boolean
  resolve: Resolver
}

/**
 * Throws 422 url_not_allowed unless `raw` is an https URL whose host resolves only to public
 * addresses. With allowPrivate (development, tests), http and private addresses are fine.
 */
export async function checkWebhookUrl(raw: string, policy: UrlPolicy): Promise<URL> {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw urlNotAllowed("not a valid absolute URL")
  }
  const schemes = policy.allowPrivate ? ["https:", "http:"] : ["https:"]
  if (!schemes.includes(url.protocol)) throw urlNotAllowed("only https:// URLs are accepted")
  if (url.username || url.password) throw urlNotAllowed("credentials in the URL are not accepted")
  if (policy.allowPrivate) return url
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1")
  let addresses: string[]
  if (isIP(host)) addresses = [host]
  else {
    try {
      addresses = await policy.resolve(host)
    } catch {
      throw urlNotAllowed("its host name does not resolve")
    }
  }
  if (addresses.length === 0) throw urlNotAllowed("its host name does not resolve")
  if (addresses.some(isPrivateAddress))
    throw urlNotAllowed("its host resolves to a loopback, private or link-local address")
  return url
}
