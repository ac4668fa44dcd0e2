import { sql } from 'drizzle-orm'
import { boolean, index, integer, pgTable, text, timestamp, unique, uniqueIndex, varchar } from 'drizzle-orm/pg-core'

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
    ...timestamps
  },
  (table) => [
    unique('posts_title_key').on(table.title),
    unique('posts_slug_key').on(table.slug),
    // The public list: published posts, newest first.
    index('posts_published_created_idx').on(table.isPublished, table.createdAt.desc(), table.id.desc()),
    index('posts_created_idx').on(table.createdAt.desc(), table.id.desc())
  ]
)

export type PostRow = typeof posts.$inferSelect

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
    dueAt: timestamp('due_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow()
  },
  (table) => [index('media_deletions_due_at_idx').on(table.dueAt)]
)

export type MediaDeletionRow = typeof mediaDeletions.$inferSelect
