import type { Db } from "@nps/db"
import type { Logger } from "@nps/log"
import type { Config } from "./config"
import type { Jwt } from "./credentials"
import type { KeyVerifier } from "./modules/keys/service"
import type { RateLimit } from "./rate-limit"

/** Everything a request handler may depend on; built once by createApp. */
export interface Deps {
  db: Db
  config: Config
  logger: Logger
  now: () => Date
  jwt: Jwt
  /** API keys, verified and briefly trusted (see KEY_TRUST_MS). */
  keys: KeyVerifier
}

export interface Limits {
  login: RateLimit
  /** Link attempts per client address (callers holding the service key are exempt). */
  link: RateLimit
  linkPerChat: RateLimit
}

export const DEFAULT_LIMITS: Limits = {
  login: { max: 10, windowMs: 60_000 },
  link: { max: 30, windowMs: 60_000 },
  linkPerChat: { max: 10, windowMs: 60_000 },
}
