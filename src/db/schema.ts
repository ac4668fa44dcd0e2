import { sql } from 'drizzle-orm'
import { boolean, index, integer, jsonb, numeric, pgTable, primaryKey, text, timestamp, unique, uniqueIndex, uuid, varchar } from 'drizzle-orm/pg-core'

export const users = pgTable(
  'users',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    username: varchar('username', { length: 150 }).notNull(),
    email: varchar('email', { length: 254 }).notNull(),
    passwordHash: text('password_hash').notNull(),
    isAdmin: boolean('is_admin').notNull().default(false),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow()
  },
  // Usernames are unique ignoring case, without the citext extension.
  (table) => [uniqueIndex('users_username_lower_key').on(sql`lower(${table.username})`)]
)

export type UserRow = typeof users.$inferSelect

/** What is known of a stored image besides its name; its variants are stored beside it. */
export interface StoredImageInfo {
  width: number
  height: number
  contentType: string
  bytes: number
  color: string
  placeholder: string
  variants: Array<{ name: string; width: number; height: number; contentType: string }>
}

const timestamps = {
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow()
}

export const posts = pgTable(
  'posts',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    authorId: integer('author_id').notNull().references(() => users.id),
    title: varchar('title', { length: 200 }).notNull(),
    slug: varchar('slug', { length: 200 }).notNull(),
    content: text('content').notNull(),
    excerpt: text('excerpt').notNull().default(''),
    isPublished: boolean('is_published').notNull().default(false),
    /** The image's name relative to the media prefix (`post_images/<uuid>.jpg`). */
    image: text('image'),
    /** Null with no image, and for images stored before this was kept. */
    imageInfo: jsonb('image_info').$type<StoredImageInfo>(),
    ...timestamps
  },
  (table) => [
    unique('posts_title_key').on(table.title),
    unique('posts_slug_key').on(table.slug),
    // The public list: published posts, newest first. DESC indexes say NULLS FIRST, which is
    // what ORDER BY ... DESC means; otherwise PostgreSQL cannot read them in order.
    index('posts_published_created_idx').on(table.isPublished, table.createdAt.desc().nullsFirst(), table.id.desc().nullsFirst()),
    index('posts_created_idx').on(table.createdAt.desc().nullsFirst(), table.id.desc().nullsFirst()),
    // Before deleting a media object the service checks that no row names it: an index lookup.
    uniqueIndex('posts_image_key').on(table.image)
  ]
)

export type PostRow = typeof posts.$inferSelect

/**
 * Exact row counts for the unfiltered lists, kept by triggers in the very transaction that
 * inserts, deletes or (un)publishes rows (migration 0005), so they are never stale. A page
 * reads its total here in constant time instead of counting the table on every request;
 * filtered lists (a search, a creator) still count their rows.
 */
export const listCounts = pgTable('list_counts', {
  /** `posts`, `published_posts` or `books`. */
  name: text('name').primaryKey(),
  count: integer('count').notNull()
})

/**
 * Media objects that must be deleted from the store, and when to try next. A row is written
 * before any risk starts (a claim before an upload, a release in the transaction that drops
 * an image), so a crash or a failing store can delay a deletion but never lose it.
 */
export const mediaDeletions = pgTable(
  'media_deletions',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    name: text('name').notNull(),
    /** The variants of the image `name` names, deleted with it. */
    variants: text('variants').array().notNull().default(sql`'{}'::text[]`),
    dueAt: timestamp('due_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow()
  },
  (table) => [index('media_deletions_due_at_idx').on(table.dueAt)]
)

export type MediaDeletionRow = typeof mediaDeletions.$inferSelect

export const books = pgTable(
  'books',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    title: varchar('title', { length: 200 }).notNull(),
    author: varchar('author', { length: 200 }).notNull(),
    /** Exact decimal, read and written in string form ("69.00"): never a float. */
    price: numeric('price', { precision: 6, scale: 2 }).notNull(),
    /** The cover's name relative to the media prefix (`covers/<uuid>.jpg`). */
    cover: text('cover'),
    coverInfo: jsonb('cover_info').$type<StoredImageInfo>(),
    creatorId: integer('creator_id').notNull().references(() => users.id),
    ...timestamps
  },
  (table) => [
    index('books_created_idx').on(table.createdAt.desc().nullsFirst(), table.id.desc().nullsFirst()),
    index('books_creator_created_idx').on(table.creatorId, table.createdAt.desc().nullsFirst()),
    index('books_title_idx').on(table.title),
    index('books_price_idx').on(table.price),
    uniqueIndex('books_cover_key').on(table.cover)
  ]
)

export type BookRow = typeof books.$inferSelect

export const reviews = pgTable(
  'reviews',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    bookId: uuid('book_id').notNull().references(() => books.id, { onDelete: 'cascade' }),
    authorId: integer('author_id').notNull().references(() => users.id),
    review: varchar('review', { length: 255 }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow()
  },
  // A book's reviews, newest first: the detail's ten and the paginated list.
  (table) => [index('reviews_book_created_idx').on(table.bookId, table.createdAt.desc().nullsFirst(), table.id.desc().nullsFirst())]
)

export type ReviewRow = typeof reviews.$inferSelect

/**
 * The stored answers of writes sent with an `Idempotency-Key`, per caller (`user:<id>`, or
 * `anonymous`). A row is taken (`token`, `lockedUntil`) before the write runs; the write's
 * own transaction stores its answer, so a committed write always has its answer here.
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    caller: text('caller').notNull(),
    key: varchar('key', { length: 255 }).notNull(),
    /** SHA-256 of the method, the path and the body: the same key with another request is refused. */
    fingerprint: text('fingerprint').notNull(),
    /** Who runs the request now; a write commits its answer only while it still holds the row. */
    token: uuid('token').notNull(),
    lockedUntil: timestamp('locked_until', { withTimezone: true, mode: 'date' }).notNull(),
    statusCode: integer('status_code'),
    headers: jsonb('headers').$type<Record<string, string>>(),
    body: text('body'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow()
  },
  (table) => [primaryKey({ columns: [table.caller, table.key] }), index('idempotency_keys_created_idx').on(table.createdAt)]
)

/**
 * Request counters of the rate limits, shared by every instance: `hits` in the window that
 * ends at `resetAt`. Rows of ended windows are reused by their key or pruned.
 */
export const rateLimits = pgTable(
  'rate_limits',
  {
    key: text('key').primaryKey(),
    hits: integer('hits').notNull(),
    resetAt: timestamp('reset_at', { withTimezone: true, mode: 'date' }).notNull()
  },
  (table) => [index('rate_limits_reset_idx').on(table.resetAt)]
)

/**
 * A login: one family of refresh tokens, each replacing the one before. Access tokens
 * name their session (`sid`), so revoking it ends them at once.
 */
export const sessions = pgTable(
  'sessions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    /** When the newest refresh token stops working: each refresh moves it on. */
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
    revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }),
    userAgent: varchar('user_agent', { length: 512 }),
    address: varchar('address', { length: 64 })
  },
  (table) => [index('sessions_user_idx').on(table.userId), index('sessions_expires_idx').on(table.expiresAt)]
)

export type SessionRow = typeof sessions.$inferSelect

/** Refresh tokens, known only by their SHA-256; a replaced one is kept to recognize its reuse. */
export const refreshTokens = pgTable(
  'refresh_tokens',
  {
    hash: text('hash').primaryKey(),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => sessions.id, { onDelete: 'cascade' }),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    replacedAt: timestamp('replaced_at', { withTimezone: true, mode: 'date' })
  },
  (table) => [index('refresh_tokens_session_idx').on(table.sessionId)]
)
