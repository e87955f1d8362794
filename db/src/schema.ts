import { sql } from "drizzle-orm"
import {
  bigint,
  bigserial,
  boolean,
  date,
  index,
  integer,
  jsonb,
  pgTable,
  serial,
  text,
  timestamp,
  uniqueIndex,
  varchar,
} from "drizzle-orm/pg-core"

const uuid = (name: string) =>
  varchar(name, { length: 36 }).primaryKey().default(sql`gen_random_uuid()::text`)

const createdAt = () => timestamp("created_at", { withTimezone: true }).notNull().defaultNow()

export const users = pgTable("users", {
  id: uuid("id"),
  username: varchar("username", { length: 100 }).notNull().unique(),
  passwordHash: text("password_hash").notNull(),
  role: varchar("role", { length: 20 }).notNull().default("user"),
  isActive: boolean("is_active").notNull().default(true),
  createdAt: createdAt(),
})

export const apiKeys = pgTable(
  "api_keys",
  {
    id: uuid("id"),
    userId: varchar("user_id", { length: 36 })
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    name: varchar("name", { length: 100 }).notNull(),
    // SHA-256 hex of the raw key; the raw key is never stored.
    keyHash: varchar("key_hash", { length: 64 }).notNull().unique(),
    prefix: varchar("prefix", { length: 16 }).notNull(),
    scopes: text("scopes").array().notNull().default(sql`'{}'::text[]`),
    isActive: boolean("is_active").notNull().default(true),
    createdAt: createdAt(),
    lastUsedAt: timestamp("last_used_at", { withTimezone: true }),
    expiresAt: timestamp("expires_at", { withTimezone: true }),
  },
  (t) => [index("idx_api_keys_user_id").on(t.userId)],
)

export const oracleProfiles = pgTable(
  "oracle_profiles",
  {
    id: serial("id").primaryKey(),
    userId: varchar("user_id", { length: 36 })
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    name: varchar("name", { length: 100 }).notNull(),
    birthday: date("birthday", { mode: "string" }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [index("idx_oracle_profiles_user_id").on(t.userId)],
)

export const readings = pgTable(
  "readings",
  {
    id: serial("id").primaryKey(),
    userId: varchar("user_id", { length: 36 })
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    profileId: integer("profile_id").references(() => oracleProfiles.id, {
      onDelete: "set null",
    }),
    question: text("question"),
    createdAt: createdAt(),
  },
  (t) => [index("idx_readings_user_id").on(t.userId)],
)

// As the seed's Phase 1 defines it. Chat ids fit in 52 bits, so JS numbers are exact.
export const telegramLinks = pgTable(
  "telegram_links",
  {
    id: serial("id").primaryKey(),
    telegramChatId: bigint("telegram_chat_id", { mode: "number" }).notNull().unique(),
    telegramUsername: varchar("telegram_username", { length: 100 }),
    userId: varchar("user_id", { length: 36 })
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    linkedAt: timestamp("linked_at", { withTimezone: true }).notNull().defaultNow(),
    lastActive: timestamp("last_active", { withTimezone: true }),
    /** The user wants this link (false after /unlink or DELETE). */
    isActive: boolean("is_active").notNull().default(true),
    /**
     * When Telegram said the bot cannot reach this chat (blocked by the user, removed from the
     * group); null while it can. Kept apart from is_active: unblocking restores the link as it was.
     */
    blockedAt: timestamp("blocked_at", { withTimezone: true }),
    /** The Telegram user's language_code the bot last saw here (IETF tag, e.g. "ru" or "pt-br"). */
    languageCode: varchar("language_code", { length: 35 }),
  },
  (t) => [index("idx_telegram_links_user_id").on(t.userId)],
)

// One-time deep-link tokens (t.me/<bot>?start=<token>): only the SHA-256 of the token is kept.
// A token is spent by setting used_at, in the same statement that checks it is still unspent.
export const telegramLinkTokens = pgTable(
  "telegram_link_tokens",
  {
    tokenHash: varchar("token_hash", { length: 64 }).primaryKey(),
    userId: varchar("user_id", { length: 36 })
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: createdAt(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    usedAt: timestamp("used_at", { withTimezone: true }),
    /** The chat the token linked, once used. */
    telegramChatId: bigint("telegram_chat_id", { mode: "number" }),
  },
  (t) => [
    index("idx_telegram_link_tokens_user_id").on(t.userId),
    // The background sweep finds expired tokens by it (api/src/sweeper.ts), in small batches.
    index("idx_telegram_link_tokens_expires_at").on(t.expiresAt),
  ],
)

// Notifications other NPS services send to a user's Telegram chats (issue 10). A notification is
// accepted with one delivery per reachable chat in the same transaction, so nothing accepted is
// lost; the bot leases due deliveries through the API and reports each outcome.
export const notifications = pgTable(
  "notifications",
  {
    id: uuid("id"),
    userId: varchar("user_id", { length: 36 })
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    text: text("text").notNull(),
    /** queued | sent | partial | failed | undeliverable */
    status: varchar("status", { length: 16 }).notNull(),
    /** The sender's own key for retries: one sender's keys never collide with another's. */
    idempotencyKey: varchar("idempotency_key", { length: 128 }),
    /** SHA-256 of the recipient and text, to tell a retry from a different request. */
    requestHash: varchar("request_hash", { length: 64 }).notNull(),
    /** Who sent it (the key's owner, or the admin); null: an operator, with the admin CLI. */
    createdBy: varchar("created_by", { length: 36 }).references(() => users.id, {
      onDelete: "cascade",
    }),
    createdAt: createdAt(),
    /** When it reached a final status (0006): retention counts from here. */
    finishedAt: timestamp("finished_at", { withTimezone: true }),
    /**
     * The Bot API sendMessage parameters of each part, per language ("en" is `text`, then each
     * translation), fixed at acceptance; null: plain `text` in one message (the common case).
     */
    messages: jsonb("messages").$type<Record<string, unknown[]>>(),
    /** What a user can switch off in their preferences. */
    category: varchar("category", { length: 32 }).notNull().default("general"),
    /** normal | high (high goes through quiet hours and a mute, not a category switched off) */
    priority: varchar("priority", { length: 8 }).notNull().default("normal"),
    /** Nothing is sent before it (status scheduled until then). */
    sendAt: timestamp("send_at", { withTimezone: true }),
    /** A delivery not sent by then fails with `expired`. */
    expiresAt: timestamp("expires_at", { withTimezone: true }),
  },
  (t) => [
    uniqueIndex("uq_notifications_sender_idempotency_key").on(t.createdBy, t.idempotencyKey),
    index("idx_notifications_user_id").on(t.userId),
    index("idx_notifications_finished_at").on(t.finishedAt).where(sql`${t.finishedAt} is not null`),
    // Scheduled notifications whose send_at passed become queued: found without a scan.
    index("idx_notifications_scheduled").on(t.sendAt).where(sql`${t.status} = 'scheduled'`),
  ],
)

export const notificationDeliveries = pgTable(
  "notification_deliveries",
  {
    /** Increasing in acceptance order: one chat's deliveries are sent in id order. */
    id: bigserial("id", { mode: "number" }).primaryKey(),
    notificationId: varchar("notification_id", { length: 36 })
      .notNull()
      .references(() => notifications.id, { onDelete: "cascade" }),
    telegramChatId: bigint("telegram_chat_id", { mode: "number" }).notNull(),
    /** queued | sent | failed | skipped */
    status: varchar("status", { length: 16 }).notNull().default("queued"),
    /** Why it failed: blocked | chat_not_found | rejected | expired; skipped: muted. */
    error: varchar("error", { length: 32 }),
    /** Times it was leased. */
    attempts: integer("attempts").notNull().default(0),
    /** Not to be sent before (a retry's backoff or Telegram's retry_after). */
    availableAt: timestamp("available_at", { withTimezone: true }).notNull().defaultNow(),
    leaseId: varchar("lease_id", { length: 36 }),
    /** The lease holder's time is up: another bot process may take it. */
    leasedUntil: timestamp("leased_until", { withTimezone: true }),
    sentAt: timestamp("sent_at", { withTimezone: true }),
    /** Parts of a split message Telegram accepted so far: a retry sends only the rest. */
    partsSent: integer("parts_sent").notNull().default(0),
    /** en | ru | es: the version it goes in, fixed when first leased. */
    language: varchar("language", { length: 2 }),
    /**
     * Waiting, not due before this (send_at, or the end of the user's quiet hours); cleared once
     * that time comes. Unlike available_at (a retry's backoff), a held delivery does not hold up
     * its chat's later ones, and the lease's index leaves held ones out.
     */
    holdUntil: timestamp("hold_until", { withTimezone: true }),
    /** The notification's expires_at, here so the expiry sweep finds due ones by index. */
    expiresAt: timestamp("expires_at", { withTimezone: true }),
  },
  (t) => [
    index("idx_notification_deliveries_notification_id").on(t.notificationId),
    // The lease query: queued deliveries oldest first, and by chat (is there an earlier one?).
    index("idx_notification_deliveries_queued").on(t.id).where(sql`${t.status} = 'queued'`),
    index("idx_notification_deliveries_queued_chat")
      .on(t.telegramChatId, t.id)
      .where(sql`${t.status} = 'queued'`),
    // The lease's scan: queued and not held, oldest first.
    index("idx_notification_deliveries_due")
      .on(t.id)
      .where(sql`${t.status} = 'queued' and ${t.holdUntil} is null`),
    // Held ones whose time came are released (hold_until cleared) in small batches.
    index("idx_notification_deliveries_held")
      .on(t.holdUntil, t.id)
      .where(sql`${t.status} = 'queued' and ${t.holdUntil} is not null`),
    index("idx_notification_deliveries_expiring")
      .on(t.expiresAt)
      .where(sql`${t.status} = 'queued' and ${t.expiresAt} is not null`),
  ],
)

// Status webhooks (0006): a sender's endpoints, and an outbox of signed notification.finished
// events written in the transaction that finishes a notification, sent by the API's own loop.
export const webhookEndpoints = pgTable(
  "webhook_endpoints",
  {
    id: uuid("id"),
    /** The sender: the owner of the key or admin JWT that registered it. */
    userId: varchar("user_id", { length: 36 })
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    url: text("url").notNull(),
    description: varchar("description", { length: 200 }),
    /** `whsec_` + base64: kept to sign with (an HMAC key cannot be stored as a hash). */
    secret: varchar("secret", { length: 100 }).notNull(),
    createdAt: createdAt(),
    lastSuccessAt: timestamp("last_success_at", { withTimezone: true }),
    lastFailureAt: timestamp("last_failure_at", { withTimezone: true }),
    lastError: varchar("last_error", { length: 200 }),
  },
  (t) => [index("idx_webhook_endpoints_user_id").on(t.userId)],
)

export const webhookMessages = pgTable(
  "webhook_messages",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    /** The `webhook-id` header: the same on every attempt, so receivers can de-duplicate. */
    msgId: varchar("msg_id", { length: 40 }).notNull(),
    endpointId: varchar("endpoint_id", { length: 36 })
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: "cascade" }),
    notificationId: varchar("notification_id", { length: 36 })
      .notNull()
      .references(() => notifications.id, { onDelete: "cascade" }),
    /** pending | sent | failed (given up) */
    status: varchar("status", { length: 16 }).notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    /** When the notification finished: the event's `timestamp`. */
    createdAt: timestamp("created_at", { withTimezone: true }).notNull(),
    availableAt: timestamp("available_at", { withTimezone: true }).notNull(),
    /** A replica is sending it until then; after, another may take it. */
    leasedUntil: timestamp("leased_until", { withTimezone: true }),
    lastError: varchar("last_error", { length: 200 }),
  },
  (t) => [
    uniqueIndex("uq_webhook_messages_endpoint_notification").on(t.endpointId, t.notificationId),
    index("idx_webhook_messages_notification_id").on(t.notificationId),
    index("idx_webhook_messages_pending").on(t.availableAt).where(sql`${t.status} = 'pending'`),
  ],
)
// What each user lets through (issue 17). No row: the defaults (UTC, no quiet hours, nothing
// muted, every category on, the language of the chat's Telegram client).
export const userPreferences = pgTable("user_preferences", {
  userId: varchar("user_id", { length: 36 })
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  mutedUntil: timestamp("muted_until", { withTimezone: true }),
  /** IANA zone, as Intl names it. */
  timeZone: varchar("time_zone", { length: 64 }).notNull().default("UTC"),
  /** Quiet hours, "HH:MM" local time; both null or both set. */
  quietStart: varchar("quiet_start", { length: 5 }),
  quietEnd: varchar("quiet_end", { length: 5 }),
  /** category → on/off: every category set or received (general is always listed). */
  categories: jsonb("categories").$type<Record<string, boolean>>().notNull().default({}),
  /** en | ru | es; null: the chat's Telegram language. */
  language: varchar("language", { length: 2 }),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
})
