CREATE TABLE "webhook_endpoints" (
	"id" varchar(36) PRIMARY KEY DEFAULT gen_random_uuid()::text NOT NULL,
	"user_id" varchar(36) NOT NULL,
	"url" text NOT NULL,
	"description" varchar(200),
	"secret" varchar(100) NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_success_at" timestamp with time zone,
	"last_failure_at" timestamp with time zone,
	"last_error" varchar(200)
);
--> statement-breakpoint
CREATE TABLE "webhook_messages" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"msg_id" varchar(40) NOT NULL,
	"endpoint_id" varchar(36) NOT NULL,
	"notification_id" varchar(36) NOT NULL,
	"status" varchar(16) DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"available_at" timestamp with time zone NOT NULL,
	"leased_until" timestamp with time zone,
	"last_error" varchar(200)
);
--> statement-breakpoint
ALTER TABLE "notifications" ADD COLUMN "finished_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "webhook_endpoints" ADD CONSTRAINT "webhook_endpoints_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhook_messages" ADD CONSTRAINT "webhook_messages_endpoint_id_webhook_endpoints_id_fk" FOREIGN KEY ("endpoint_id") REFERENCES "public"."webhook_endpoints"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhook_messages" ADD CONSTRAINT "webhook_messages_notification_id_notifications_id_fk" FOREIGN KEY ("notification_id") REFERENCES "public"."notifications"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idx_webhook_endpoints_user_id" ON "webhook_endpoints" USING btree ("user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "uq_webhook_messages_endpoint_notification" ON "webhook_messages" USING btree ("endpoint_id","notification_id");--> statement-breakpoint
CREATE INDEX "idx_webhook_messages_notification_id" ON "webhook_messages" USING btree ("notification_id");--> statement-breakpoint
CREATE INDEX "idx_webhook_messages_pending" ON "webhook_messages" USING btree ("available_at") WHERE "webhook_messages"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "idx_notifications_finished_at" ON "notifications" USING btree ("finished_at") WHERE "notifications"."finished_at" is not null;--> statement-breakpoint
UPDATE "notifications" SET "finished_at" = "created_at" WHERE "status" IN ('sent', 'partial', 'failed', 'skipped', 'undeliverable');
