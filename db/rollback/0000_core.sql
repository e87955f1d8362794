-- Undoes 0000_core: drops every table it created (dependents first).
DROP TABLE IF EXISTS "readings";
--> statement-breakpoint
DROP TABLE IF EXISTS "oracle_profiles";
--> statement-breakpoint
DROP TABLE IF EXISTS "api_keys";
--> statement-breakpoint
DROP TABLE IF EXISTS "users";
