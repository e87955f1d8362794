-- Undoes 0004_link_token_sweep.
DROP INDEX IF EXISTS "idx_telegram_link_tokens_expires_at";
