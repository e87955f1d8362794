// Standard Webhooks signing (https://www.standardwebhooks.com/), with the reference library, so
// a receiver's own copy of it verifies what we send.
import { Webhook } from "standardwebhooks"

export interface SignedHeaders {
  "webhook-id": string
  "webhook-timestamp": string
  "webhook-signature": string
}

/** Headers for one attempt: the id stays the same on every retry, the timestamp is now. */
export function signPayload(secret: string, msgId: string, at: Date, body: string): SignedHeaders {
  return {
    "webhook-id": msgId,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": new Webhook(secret).sign(msgId, at, body),
  }
}
