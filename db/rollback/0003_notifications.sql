-- Undoes 0003_notifications.
DROP TABLE IF EXISTS "notification_deliveries";
--> statement-breakpoint
DROP TABLE IF EXISTS "notifications";
