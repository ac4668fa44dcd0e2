import { and, asc, desc, eq, getTableColumns, ilike, or, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../../db/client.js'
import { countedRows, keptCount } from '../../db/counts.js'
import { prepared } from '../../db/prepared.js'
import { books, reviews, users, type BookRow } from '../../db/schema.js'
import { forbidden, notFound } from '../../errors/app-error.js'
import type { NormalizedImage } from '../../media/image.js'
import { storeThenWrite, type Finish, type MediaContext } from '../../media/lifecycle.js'
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

/** The list statement, prepared once per filter shape. */
function bookListQueries(db: Db, ordering: BookListQuery['ordering'], byCreator: boolean, searching: boolean) {
  const name = `books_list_${ordering.replace('-', 'desc_')}_${byCreator}_${searching}`
  return prepared(db, name, (db) => {
    const pattern = sql.placeholder('pattern')
    const where = and(
      byCreator ? eq(books.creatorId, sql.placeholder('creator')) : undefined,
      searching ? or(ilike(books.title, pattern), ilike(books.author, pattern)) : undefined
    )
    // The total rides along as an uncorrelated subquery: one round trip per page, not two.
    const total = byCreator || searching ? countedRows(books, where) : keptCount('books')
    return {
      page: db
        .select({ ...withCreator, total })
        .from(books)
        .innerJoin(users, eq(users.id, books.creatorId))
        .where(where)
        .orderBy(...orderings[ordering])
        .limit(sql.placeholder('limit'))
        .offset(sql.placeholder('offset'))
        .prepare(name)
    }
  })
}

/** The page, its creators and the total count in one prepared query. */
export async function listBooks(db: Db, query: BookListQuery) {
  const statements = bookListQueries(db, query.ordering, query.creator !== undefined, query.search !== undefined)
  const values = { creator: query.creator, pattern: query.search === undefined ? undefined : likePattern(query.search), limit: query.page_size, offset: offsetOf(query) }
  const rows = await statements.page.execute(values)
  // An empty page has no row to carry the total: it is page 1 of an empty list, or past the end.
  return { rows, count: rows[0]?.total ?? 0 }
}

/** The book with its creator and review count, in one query. */
export async function findBook(db: Db, id: string): Promise<BookWithCreator & { reviewCount: number }> {
  const query = prepared(db, 'book_by_id', (db) =>
    db
      .select({ ...withCreator, reviewCount: sql<number>`(select count(*)::int from ${reviews} where ${reviews.bookId} = ${books.id})` })
      .from(books)
      .innerJoin(users, eq(users.id, books.creatorId))
      .where(eq(books.id, sql.placeholder('id')))
      .prepare('book_by_id')
  )
  const [row] = await query.execute({ id })
  if (!row) throw notFound('Book')
  return row
}

export async function createBook<A>(context: MediaContext, creatorId: number, input: Required<BookInput>, cover: NormalizedImage | undefined, finish: Finish<BookRow, A>): Promise<A> {
  const write = async (tx: Db, name: string | undefined) => {
    const [row] = await tx.insert(books).values({ ...input, creatorId, cover: name ?? null }).returning()
    return { result: row! }
  }
  return storeThenWrite(context, cover && { image: cover, folder: COVER_FOLDER }, write, finish)
}

/** The creator or an admin may change a book; anyone else is refused before any work is done. */
export async function assertCanChange(db: Db, id: string, actor: Actor): Promise<void> {
  const [row] = await db.select({ creatorId: books.creatorId }).from(books).where(eq(books.id, id))
  if (!row) throw notFound('Book')
  if (row.creatorId !== actor.id && !actor.isAdmin) throw forbidden('Only the creator of this book or an admin can change it')
}

export async function updateBook<A>(context: MediaContext, id: string, input: BookInput, cover: ImageChange, finish: Finish<void, A>): Promise<A> {
  const write = async (tx: Db, name: string | undefined) => {
    const [current] = await tx.select({ cover: books.cover }).from(books).where(eq(books.id, id)).for('update')
    if (!current) throw notFound('Book')
    const changes: Partial<typeof books.$inferInsert> = { ...input, updatedAt: new Date() }
    if (cover !== undefined) changes.cover = name ?? null
    await tx.update(books).set(changes).where(eq(books.id, id))
    return { result: undefined, released: cover !== undefined ? [current.cover] : [] }
  }
  return storeThenWrite(context, cover ? { image: cover, folder: COVER_FOLDER } : undefined, write, finish)
}

/** Its reviews go with it (ON DELETE CASCADE); its cover after the commit. */
export async function deleteBook<A>(context: MediaContext, id: string, finish: Finish<void, A>): Promise<A> {
  const write = async (tx: Db) => {
    const [deleted] = await tx.delete(books).where(eq(books.id, id)).returning({ cover: books.cover })
    if (!deleted) throw notFound('Book')
    return { result: undefined, released: [deleted.cover] }
  }
  return storeThenWrite(context, undefined, write, finish)
}
