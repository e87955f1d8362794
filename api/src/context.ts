import type { Db } from "@nps/db"
import type { Logger } from "@nps/log"
import type { Config } from "./config"
import type { Jwt } from "./credentials"
import type { KeyVerifier } from "./modules/keys/service"
import type { RateLimit } from "./rate-limit"
import type { Limiter } from "./shared-rate-limit"

/** Everything a request handler may depend on; built once by createApp. */
export interface Deps {
  db: Db
  config: Config
  logger: Logger
  now: () => Date
  jwt: Jwt
  /** A named limit: in this process's memory, or (REDIS_URL) shared by every replica. */
  limiter: (name: string, limit: RateLimit) => Limiter
  /** API keys, verified and briefly trusted (see KEY_TRUST_MS). */
  keys: KeyVerifier
}

export interface Limits {
  login: RateLimit
  /** /link attempts per chat (API keys guessed through the bot). */
  linkPerChat: RateLimit
  /** Link tokens made per user (each one a row; a flood would fill the table). */
  linkTokensPerUser: RateLimit
}

export const DEFAULT_LIMITS: Limits = {
  login: { max: 10, windowMs: 60_000 },
  linkPerChat: { max: 10, windowMs: 60_000 },
  linkTokensPerUser: { max: 10, windowMs: 10 * 60_000 },
}
