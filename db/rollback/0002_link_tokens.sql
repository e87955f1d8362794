-- Undoes 0002_link_tokens.
DROP TABLE IF EXISTS "telegram_link_tokens";
--> statement-breakpoint
ALTER TABLE "telegram_links" DROP COLUMN IF EXISTS "blocked_at";
