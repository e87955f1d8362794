import { defineConfig } from "drizzle-kit"

// Generation only: it diffs db/src/schema.ts against db/drizzle/meta, touching no database.
export default defineConfig({
  dialect: "postgresql",
  schema: "./db/src/schema.ts",
  out: "./db/drizzle",
})
