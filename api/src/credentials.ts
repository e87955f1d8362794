// API keys, password hashes and JWTs: the only code that touches raw secrets.
import { jwtVerify, SignJWT } from "jose"

export const SCOPES = [
  "telegram:service",
  "telegram:notify",
  "oracle:read",
  "oracle:write",
] as const
export type Scope = (typeof SCOPES)[number]

/**
 * Scopes only an admin may mint: `telegram:service` reads any chat's data, `telegram:notify`
 * writes to any linked user.
 */
export const ADMIN_ONLY_SCOPES: readonly Scope[] = ["telegram:service", "telegram:notify"]

/** `nps_` + 43 URL-safe base64 characters (32 random bytes). */
export function generateApiKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32))
  return `nps_${Buffer.from(bytes).toString("base64url")}`
}

const sha256Hex = (secret: string) => new Bun.CryptoHasher("sha256").update(secret).digest("hex")

export const hashApiKey = sha256Hex

/**
 * Deep-link tokens: `npslink_` + 43 URL-safe base64 characters (32 random bytes) = 51, within
 * Telegram's 64-character `start` parameter. The prefix lets the log scrubber recognise them.
 */
export const LINK_TOKEN_PREFIX = "npslink_"
export const generateLinkToken = () =>
  `${LINK_TOKEN_PREFIX}${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url")}`
export const hashLinkToken = sha256Hex

/** What lists show instead of the key: enough to recognise it, useless to an attacker. */
export const keyPrefix = (key: string) => key.slice(0, 12)

export const looksLikeApiKey = (token: string) => token.startsWith("nps_")

// argon2id at OWASP's minimum parameters: ~20 ms here, so logins stay fast and tests quick.
export const hashPassword = (password: string) =>
  Bun.password.hash(password, { algorithm: "argon2id", memoryCost: 19_456, timeCost: 2 })

export const verifyPassword = (password: string, hash: string) =>
  Bun.password.verify(password, hash).catch(() => false)

export const JWT_TTL_SECONDS = 3600

export interface Jwt {
  sign(userId: string): Promise<string>
  /** The user id, or null for a bad, expired or foreign token. */
  verify(token: string): Promise<string | null>
}

export function createJwt(secret: string, now: () => Date): Jwt {
  const key = new TextEncoder().encode(secret)
  return {
    sign: (userId) => {
      const iat = Math.floor(now().getTime() / 1000)
      return new SignJWT({})
        .setProtectedHeader({ alg: "HS256" })
        .setSubject(userId)
        .setIssuedAt(iat)
        .setExpirationTime(iat + JWT_TTL_SECONDS)
        .sign(key)
    },
    verify: async (token) => {
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: ["HS256"],
          currentDate: now(),
        })
        return typeof payload.sub === "string" ? payload.sub : null
      } catch {
        return null
      }
    },
  }
}
