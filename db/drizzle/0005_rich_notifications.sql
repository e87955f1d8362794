ALTER TABLE "notifications" ADD COLUMN "messages" jsonb;--> statement-breakpoint
ALTER TABLE "notifications" ADD COLUMN "category" varchar(32) DEFAULT 'general' NOT NULL;--> statement-breakpoint
ALTER TABLE "notifications" ADD COLUMN "priority" varchar(8) DEFAULT 'normal' NOT NULL;--> statement-breakpoint
ALTER TABLE "notifications" ADD COLUMN "send_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "notifications" ADD COLUMN "expires_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "notification_deliveries" ADD COLUMN "parts_sent" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "notification_deliveries" ADD COLUMN "language" varchar(2);--> statement-breakpoint
ALTER TABLE "notification_deliveries" ADD COLUMN "hold_until" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "notification_deliveries" ADD COLUMN "expires_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "telegram_links" ADD COLUMN "language_code" varchar(35);--> statement-breakpoint
CREATE TABLE "user_preferences" (
	"user_id" varchar(36) PRIMARY KEY NOT NULL,
	"muted_until" timestamp with time zone,
	"time_zone" varchar(64) DEFAULT 'UTC' NOT NULL,
	"quiet_start" varchar(5),
	"quiet_end" varchar(5),
	"categories" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"language" varchar(2),
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "user_preferences" ADD CONSTRAINT "user_preferences_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idx_notification_deliveries_expiring" ON "notification_deliveries" USING btree ("expires_at") WHERE "notification_deliveries"."status" = 'queued' and "notification_deliveries"."expires_at" is not null;--> statement-breakpoint
CREATE INDEX "idx_notification_deliveries_due" ON "notification_deliveries" USING btree ("id") WHERE "notification_deliveries"."status" = 'queued' and "notification_deliveries"."hold_until" is null;--> statement-breakpoint
CREATE INDEX "idx_notification_deliveries_held" ON "notification_deliveries" USING btree ("hold_until","id") WHERE "notification_deliveries"."status" = 'queued' and "notification_deliveries"."hold_until" is not null;--> statement-breakpoint
CREATE INDEX "idx_notifications_scheduled" ON "notifications" USING btree ("send_at") WHERE "notifications"."status" = 'scheduled';
