-- Undoes 0001_telegram_links.
DROP TABLE IF EXISTS "telegram_links";
