import { sql } from "drizzle-orm"
import { Elysia, t } from "elysia"
import type { Deps } from "../../context"
import { databaseUnavailable } from "../../errors"

const PROBE_TIMEOUT_MS = 2_000

export const healthRoutes = ({ db }: Deps) =>
  new Elysia({ tags: ["health"] }).get(
    "/health",
    async () => {
      let timer: Timer | undefined
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(databaseUnavailable()), PROBE_TIMEOUT_MS)
      })
      try {
        await Promise.race([db.execute(sql`select 1`), timeout])
      } catch (error) {
        throw databaseUnavailable(error)
      } finally {
        clearTimeout(timer)
      }
      return { status: "ok" as const }
    },
    {
      response: { 200: t.Object({ status: t.Literal("ok") }) },
      detail: {
        summary: "200 when the database answers, else 503",
        description: "Credential: none.",
      },
    },
  )
