-- Undoes 0005_rich_notifications.
DROP TABLE IF EXISTS "user_preferences";
--> statement-breakpoint
DROP INDEX IF EXISTS "idx_notification_deliveries_expiring";
--> statement-breakpoint
DROP INDEX IF EXISTS "idx_notifications_scheduled";
--> statement-breakpoint
DROP INDEX IF EXISTS "idx_notification_deliveries_due";
--> statement-breakpoint
DROP INDEX IF EXISTS "idx_notification_deliveries_held";
--> statement-breakpoint
ALTER TABLE "telegram_links" DROP COLUMN IF EXISTS "language_code";
--> statement-breakpoint
ALTER TABLE "notification_deliveries" DROP COLUMN IF EXISTS "expires_at", DROP COLUMN IF EXISTS "hold_until", DROP COLUMN IF EXISTS "language", DROP COLUMN IF EXISTS "parts_sent";
--> statement-breakpoint
ALTER TABLE "notifications" DROP COLUMN IF EXISTS "expires_at", DROP COLUMN IF EXISTS "send_at", DROP COLUMN IF EXISTS "priority", DROP COLUMN IF EXISTS "category", DROP COLUMN IF EXISTS "messages";
