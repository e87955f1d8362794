CREATE INDEX "idx_telegram_link_tokens_expires_at" ON "telegram_link_tokens" USING btree ("expires_at");
