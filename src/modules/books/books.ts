import { and, asc, desc, eq, getTableColumns, ilike, or, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../../db/client.js'
import { countedRows, keptCount } from '../../db/counts.js'
import { preparedStatement, preparedStatements } from '../../db/prepared.js'
import { books, reviews, users, type BookRow } from '../../db/schema.js'
import { forbidden, notFound } from '../../errors/app-error.js'
import { UUID } from '../../lib/vocabulary.js'
import type { Actor } from '../../plugins/auth.js'
import { writeFileField, type MediaContext, type WriteRequest } from '../../media/lifecycle.js'
import type { Upload } from '../../media/image.js'
import { newestReviews } from '../reviews/reviews.js'
import { likePattern, offsetOf, searchOf } from '../shared/pagination.js'
import type { BookListQuery, BookPatch, BookWrite } from './schemas.js'

export type BookWithCreator = BookRow & { creatorUsername: string }

const COVER_FOLDER = 'covers'

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

interface ListShape {
  ordering: BookListQuery['ordering']
  byCreator: boolean
  searching: boolean
}

/** The list statement, prepared once per filter shape. */
const bookList = preparedStatements(
  ({ ordering, byCreator, searching }: ListShape) => `books_list_${ordering.replace('-', 'desc_')}_${byCreator}_${searching}`,
  (db, { ordering, byCreator, searching }, name) => {
    const pattern = sql.placeholder('pattern')
    const where = and(
      byCreator ? eq(books.creatorId, sql.placeholder('creator')) : undefined,
      searching ? or(ilike(books.title, pattern), ilike(books.author, pattern)) : undefined
    )
    // The total rides along in an uncorrelated subquery: one round trip per page, not two.
    const total = byCreator || searching ? countedRows(books, where) : keptCount('books')
    return db
      .select({ ...withCreator, total })
      .from(books)
      .innerJoin(users, eq(users.id, books.creatorId))
      .where(where)
      .orderBy(...orderings[ordering])
      .limit(sql.placeholder('limit'))
      .offset(sql.placeholder('offset'))
      .prepare(name)
  }
)

/** The page, its creators and the total count in one prepared query. */
export async function listBooks(db: Db, query: BookListQuery) {
  const search = searchOf(query)
  const statement = bookList(db, { ordering: query.ordering, byCreator: query.creator !== undefined, searching: search !== undefined })
  const values = { creator: query.creator, pattern: search === undefined ? undefined : likePattern(search), limit: query.page_size, offset: offsetOf(query) }
  const rows = await statement.execute(values)
  // An empty page has no row to carry the total: it is page 1 of an empty list, or past the end.
  return { rows, count: rows[0]?.total ?? 0 }
}

/** The book with its creator and review count, in one query. */
/** A book with what its detail shows: its creator, review count and newest reviews. */
export async function findBookDetail(db: Db, id: string) {
  return Promise.all([findBook(db, id), newestReviews(db, id)])
}

const bookById = preparedStatement('book_by_id', (db, name) =>
  db
    .select({ ...withCreator, reviewCount: sql<number>`(select count(*)::int from ${reviews} where ${reviews.bookId} = ${books.id})` })
    .from(books)
    .innerJoin(users, eq(users.id, books.creatorId))
    .where(eq(books.id, sql.placeholder('id')))
    .prepare(name)
)

export async function findBook(db: Db, id: string): Promise<BookWithCreator & { reviewCount: number }> {
  const [row] = await bookById(db).execute({ id })
  if (!row) throw notFound('Book')
  return row
}

/** The creator or an admin may change a book; anyone else is refused before any work is done. */
export async function assertCanChange(db: Db, id: string, actor: Actor): Promise<void> {
  const [row] = await db.select({ creatorId: books.creatorId }).from(books).where(eq(books.id, id))
  if (!row) throw notFound('Book')
  if (row.creatorId !== actor.id && !actor.isAdmin) throw forbidden('Only the creator of this book or an admin can change it')
}

/**
 * The writes of books. Each stores the new cover (if any) and writes the row together,
 * releases a replaced or removed cover after the commit, and makes its answer (the
 * request's `answer`) inside the transaction.
 */
export function bookWrites(media: MediaContext) {
  const cover = (upload: Upload | null | undefined) => ({ upload, folder: COVER_FOLDER })
  return {
    create: <A>(creator: Actor, input: BookWrite, request: WriteRequest<BookRow, A>) =>
      writeFileField(media, request, cover(input.cover), async (tx, name, info) => {
        const values = { title: input.title, author: input.author, price: input.price, creatorId: creator.id, cover: name ?? null, coverInfo: info ?? null }
        const [row] = await tx.insert(books).values(values).returning()
        return { result: row! }
      }),

    update: <A>(id: string, input: BookPatch, request: WriteRequest<void, A>) =>
      writeFileField(media, request, cover(input.cover), async (tx, name, info) => {
        const [current] = await tx.select({ name: books.cover, info: books.coverInfo }).from(books).where(eq(books.id, id)).for('update')
        if (!current) throw notFound('Book')
        const changes: Partial<typeof books.$inferInsert> = { title: input.title, author: input.author, price: input.price, updatedAt: new Date() }
        if (name !== undefined) Object.assign(changes, { cover: name, coverInfo: info ?? null })
        await tx.update(books).set(changes).where(eq(books.id, id))
        return { result: undefined, released: name !== undefined ? [current] : [] }
      }),

    /** Its reviews go with it (ON DELETE CASCADE); its cover after the commit. */
    remove: <A>(id: string, request: WriteRequest<void, A>) =>
      writeFileField(media, request, undefined, async (tx) => {
        const [deleted] = await tx.delete(books).where(eq(books.id, id)).returning({ name: books.cover, info: books.coverInfo })
        if (!deleted) throw notFound('Book')
        return { result: undefined, released: [deleted] }
      })
  }
}
