import { and, count, desc, eq, getTableColumns, sql } from 'drizzle-orm'
import type { Db } from '../../db/client.js'
import { preparedStatement } from '../../db/prepared.js'
import { books, reviews, users, type ReviewRow } from '../../db/schema.js'
import { forbidden, notFound } from '../../errors/app-error.js'
import type { PageRequest } from '../shared/pagination.js'
import { offsetOf } from '../shared/pagination.js'
import type { Actor, AuthUser } from '../../plugins/auth.js'

export type ReviewWithAuthor = ReviewRow & { authorUsername: string }

export const NEWEST_REVIEWS = 10

const withAuthor = { ...getTableColumns(reviews), authorUsername: users.username }

const newest = preparedStatement('reviews_newest', (db, name) =>
  db
    .select(withAuthor)
    .from(reviews)
    .innerJoin(users, eq(users.id, reviews.authorId))
    .where(eq(reviews.bookId, sql.placeholder('bookId')))
    .orderBy(desc(reviews.createdAt), desc(reviews.id))
    .limit(sql.placeholder('limit'))
    .offset(sql.placeholder('offset'))
    .prepare(name)
)

/** A book's reviews, newest first, authors joined in: one query. */
export function newestReviews(db: Db, bookId: string, page: PageRequest = { page: 1, page_size: NEWEST_REVIEWS }): Promise<ReviewWithAuthor[]> {
  return newest(db).execute({ bookId, limit: page.page_size, offset: offsetOf(page) })
}

export async function listReviews(db: Db, bookId: string, page: PageRequest) {
  const [exists] = await db.select({ id: books.id }).from(books).where(eq(books.id, bookId))
  if (!exists) throw notFound('Book')
  const [rows, [total]] = await Promise.all([
    newestReviews(db, bookId, page),
    db.select({ count: count() }).from(reviews).where(eq(reviews.bookId, bookId))
  ])
  return { rows, count: total?.count ?? 0 }
}

/** A new review by `author`, answered from the row written: the author is the caller. */
export async function createReview(db: Db, bookId: string, author: Pick<AuthUser, 'id' | 'username'>, text: string): Promise<ReviewWithAuthor> {
  const [exists] = await db.select({ id: books.id }).from(books).where(eq(books.id, bookId))
  if (!exists) throw notFound('Book')
  const [row] = await db.insert(reviews).values({ bookId, authorId: author.id, review: text }).returning()
  return { ...row!, authorUsername: author.username }
}

async function findReview(db: Db, bookId: string, reviewId: number): Promise<ReviewWithAuthor> {
  const [row] = await db
    .select(withAuthor)
    .from(reviews)
    .innerJoin(users, eq(users.id, reviews.authorId))
    .where(and(eq(reviews.id, reviewId), eq(reviews.bookId, bookId)))
  if (!row) throw notFound('Review')
  return row
}

/** The review's author or an admin; a review of another book is 404. */
export async function deleteReview(db: Db, bookId: string, reviewId: number, actor: Actor): Promise<void> {
  const review = await findReview(db, bookId, reviewId)
  if (review.authorId !== actor.id && !actor.isAdmin) throw forbidden('Only the author of this review or an admin can delete it')
  await db.delete(reviews).where(eq(reviews.id, reviewId))
}
