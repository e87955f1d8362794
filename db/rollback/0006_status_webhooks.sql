-- Undoes 0006_status_webhooks.
DROP TABLE IF EXISTS "webhook_messages";
--> statement-breakpoint
DROP TABLE IF EXISTS "webhook_endpoints";
--> statement-breakpoint
DROP INDEX IF EXISTS "idx_notifications_finished_at";
--> statement-breakpoint
ALTER TABLE "notifications" DROP COLUMN IF EXISTS "finished_at";
