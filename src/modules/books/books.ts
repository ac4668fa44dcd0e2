import { and, asc, count, desc, eq, getTableColumns, ilike, or, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../../db/client.js'
import { books, reviews, users, type BookRow } from '../../db/schema.js'
import { forbidden, notFound } from '../../errors.js'
import type { NormalizedImage } from '../../media/image.js'
import { storeThenWrite, type MediaContext } from '../../media/lifecycle.js'
import { likePattern, offsetOf } from '../shared/pagination.js'
import type { ImageChange } from '../shared/routes.js'
import type { BookListQuery } from './schemas.js'

export type BookWithCreator = BookRow & { creatorUsername: string }

export interface BookInput {
  title?: string
  author?: string
  price?: string
}

export interface Actor {
  id: number
  isAdmin: boolean
}

const COVER_FOLDER = 'covers'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Book ids are UUIDs; anything else names no book (404, like an unknown one). */
export function parseBookId(raw: string): string {
  if (!UUID.test(raw)) throw notFound('Book')
  return raw.toLowerCase()
}

const withCreator = { ...getTableColumns(books), creatorUsername: users.username }

const orderings: Record<BookListQuery['ordering'], SQL[]> = {
  title: [asc(books.title), asc(books.id)],
  '-title': [desc(books.title), desc(books.id)],
  price: [asc(books.price), asc(books.id)],
  '-price': [desc(books.price), desc(books.id)],
  created_at: [asc(books.createdAt), asc(books.id)],
  '-created_at': [desc(books.createdAt), desc(books.id)]
}

/** One query for the page (creators joined in), one for the count. */
export async function listBooks(db: Db, query: BookListQuery) {
  const pattern = query.search === undefined ? undefined : likePattern(query.search)
  const where = and(
    query.creator === undefined ? undefined : eq(books.creatorId, query.creator),
    pattern === undefined ? undefined : or(ilike(books.title, pattern), ilike(books.author, pattern))
  )
  const [rows, [total]] = await Promise.all([
    db
      .select(withCreator)
      .from(books)
      .innerJoin(users, eq(users.id, books.creatorId))
      .where(where)
      .orderBy(...orderings[query.ordering])
      .limit(query.page_size)
      .offset(offsetOf(query)),
    db.select({ count: count() }).from(books).where(where)
  ])
  return { rows, count: total?.count ?? 0 }
}

/** The book with its creator and review count, in one query. */
export async function findBook(db: Db, id: string): Promise<BookWithCreator & { reviewCount: number }> {
  const [row] = await db
    .select({ ...withCreator, reviewCount: sql<number>`(select count(*)::int from ${reviews} where ${reviews.bookId} = ${books.id})` })
    .from(books)
    .innerJoin(users, eq(users.id, books.creatorId))
    .where(eq(books.id, id))
  if (!row) throw notFound('Book')
  return row
}

export async function createBook(context: MediaContext, creatorId: number, input: Required<BookInput>, cover: NormalizedImage | undefined): Promise<string> {
  return storeThenWrite(context, cover && { image: cover, folder: COVER_FOLDER }, async (tx, name) => {
    const [row] = await tx.insert(books).values({ ...input, creatorId, cover: name ?? null }).returning({ id: books.id })
    return { result: row!.id }
  })
}

/** The creator or an admin may change a book; anyone else is refused before any work is done. */
export async function assertCanChange(db: Db, id: string, actor: Actor): Promise<void> {
  const [row] = await db.select({ creatorId: books.creatorId }).from(books).where(eq(books.id, id))
  if (!row) throw notFound('Book')
  if (row.creatorId !== actor.id && !actor.isAdmin) throw forbidden('Only the creator of this book or an admin can change it')
}

export async function updateBook(context: MediaContext, id: string, input: BookInput, cover: ImageChange): Promise<void> {
  await storeThenWrite(context, cover ? { image: cover, folder: COVER_FOLDER } : undefined, async (tx, name) => {
    const [current] = await tx.select({ cover: books.cover }).from(books).where(eq(books.id, id)).for('update')
    if (!current) throw notFound('Book')
    const changes: Partial<typeof books.$inferInsert> = { ...input, updatedAt: new Date() }
    if (cover !== undefined) changes.cover = name ?? null
    await tx.update(books).set(changes).where(eq(books.id, id))
    return { result: undefined, released: cover !== undefined ? [current.cover] : [] }
  })
}

/** Its reviews go with it (ON DELETE CASCADE); its cover after the commit. */
export async function deleteBook(context: MediaContext, id: string): Promise<void> {
  await storeThenWrite(context, undefined, async (tx) => {
    const [deleted] = await tx.delete(books).where(eq(books.id, id)).returning({ cover: books.cover })
    if (!deleted) throw notFound('Book')
    return { result: undefined, released: [deleted.cover] }
  })
}
