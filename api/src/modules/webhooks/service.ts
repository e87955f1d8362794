// A sender's webhook endpoints: registered with a fresh signing secret (shown once), listed with
// their health, removed. The URL is checked against the SSRF policy before it is stored.
import { type Db, users, webhookEndpoints } from "@nps/db"
import { and, asc, count, eq, sql } from "drizzle-orm"
import type { Static } from "elysia"
import { ApiError, notFound } from "../../errors"
import { type CreatedEndpoint, type EndpointView, MAX_ENDPOINTS_PER_SENDER } from "./model"
import { checkWebhookUrl, type UrlPolicy } from "./ssrf"

const e = webhookEndpoints
const iso = (date: Date | null) => (date ? date.toISOString() : null)

/** A Standard Webhooks secret: `whsec_` + base64 of 32 random bytes. */
export const newSecret = () =>
  `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")}`

export async function createEndpoint(
  db: Db,
  policy: UrlPolicy,
  senderId: string,
  input: { url: string; description?: string | undefined },
): Promise<Static<typeof CreatedEndpoint>> {
  await checkWebhookUrl(input.url, policy)
  return db.transaction(async (txn) => {
    const tx = txn as unknown as Db
    // The sender's row, locked: two concurrent registrations cannot both be the tenth.
    await tx.select({ id: users.id }).from(users).where(eq(users.id, senderId)).for("update")
    const [row] = await tx.select({ n: count() }).from(e).where(eq(e.userId, senderId))
    if (Number(row?.n ?? 0) >= MAX_ENDPOINTS_PER_SENDER)
      throw new ApiError(
        409,
        "too_many_endpoints",
        `A sender may have at most ${MAX_ENDPOINTS_PER_SENDER} webhook endpoints; delete one first`,
      )
    const secret = newSecret()
    const [created] = await tx
      .insert(e)
      .values({ userId: senderId, url: input.url, description: input.description ?? null, secret })
      .returning({ id: e.id, url: e.url, description: e.description })
    if (!created) throw new Error("insert returned no row")
    return { ...created, secret }
  })
}

type View = Static<typeof EndpointView>

/** A sender's endpoints with their health; never the secret. */
export async function listEndpoints(db: Db, senderId: string): Promise<View[]> {
  const rows = await db
    .select({
      id: e.id,
      url: e.url,
      description: e.description,
      createdAt: e.createdAt,
      lastSuccessAt: e.lastSuccessAt,
      lastFailureAt: e.lastFailureAt,
      lastError: e.lastError,
    })
    .from(e)
    .where(eq(e.userId, senderId))
    .orderBy(asc(e.createdAt), asc(e.id))
  return rows.map((r) => ({
    id: r.id,
    url: r.url,
    description: r.description,
    created_at: r.createdAt.toISOString(),
    last_success_at: iso(r.lastSuccessAt),
    last_failure_at: iso(r.lastFailureAt),
    last_error: r.lastError,
  }))
}

/** Removes one of the sender's own endpoints (its pending messages go with it). */
export async function deleteEndpoint(db: Db, senderId: string, id: string): Promise<void> {
  const gone = await db
    .delete(e)
    .where(and(eq(e.id, id), eq(e.userId, senderId)))
    .returning({ id: e.id })
  if (!gone.length) throw notFound("endpoint_not_found", "No such webhook endpoint")
}

/** Records how the latest attempt to an endpoint went, for GET and the admin CLI. */
export async function recordHealth(
  db: Db,
  id: string,
  now: Date,
  error: string | null,
): Promise<void> {
  await db
    .update(e)
    .set(
      error === null
        ? { lastSuccessAt: now }
        : { lastFailureAt: now, lastError: sql`${error.slice(0, 200)}` },
    )
    .where(eq(e.id, id))
}
