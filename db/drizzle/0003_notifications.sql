CREATE TABLE "notification_deliveries" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"notification_id" varchar(36) NOT NULL,
	"telegram_chat_id" bigint NOT NULL,
	"status" varchar(16) DEFAULT 'queued' NOT NULL,
	"error" varchar(32),
	"attempts" integer DEFAULT 0 NOT NULL,
	"available_at" timestamp with time zone DEFAULT now() NOT NULL,
	"lease_id" varchar(36),
	"leased_until" timestamp with time zone,
	"sent_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "notifications" (
	"id" varchar(36) PRIMARY KEY DEFAULT gen_random_uuid()::text NOT NULL,
	"user_id" varchar(36) NOT NULL,
	"text" text NOT NULL,
	"status" varchar(16) NOT NULL,
	"idempotency_key" varchar(128),
	"request_hash" varchar(64) NOT NULL,
	"created_by" varchar(36),
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "notification_deliveries" ADD CONSTRAINT "notification_deliveries_notification_id_notifications_id_fk" FOREIGN KEY ("notification_id") REFERENCES "public"."notifications"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "notifications" ADD CONSTRAINT "notifications_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "notifications" ADD CONSTRAINT "notifications_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idx_notification_deliveries_notification_id" ON "notification_deliveries" USING btree ("notification_id");--> statement-breakpoint
CREATE INDEX "idx_notification_deliveries_queued" ON "notification_deliveries" USING btree ("id") WHERE "notification_deliveries"."status" = 'queued';--> statement-breakpoint
CREATE INDEX "idx_notification_deliveries_queued_chat" ON "notification_deliveries" USING btree ("telegram_chat_id","id") WHERE "notification_deliveries"."status" = 'queued';--> statement-breakpoint
CREATE UNIQUE INDEX "uq_notifications_sender_idempotency_key" ON "notifications" USING btree ("created_by","idempotency_key");--> statement-breakpoint
CREATE INDEX "idx_notifications_user_id" ON "notifications" USING btree ("user_id");