import type { BookRow } from '../../db/schema.js'
import { reviewShape } from '../reviews/shape.js'
import type { ReviewWithAuthor } from '../reviews/reviews.js'
import type { Media } from '../../plugins/media.js'
import { imageInfoShape } from '../shared/image-info.js'
import { userRef } from '../shared/user-ref.js'
import type { BookWithCreator } from './books.js'
import type { BookDetail, BookList } from './schemas.js'

/** Books the way the API answers them; `mediaUrl` turns a stored name into its absolute URL. */
export function bookShapes(mediaUrl: Media['url']) {
  const coverInfo = imageInfoShape(mediaUrl)
  const list = (row: BookWithCreator): BookList => ({
    id: row.id,
    title: row.title,
    author: row.author,
    price: row.price,
    cover: mediaUrl(row.cover),
    cover_info: coverInfo(row.cover, row.coverInfo),
    creator: userRef(row.creatorId, row.creatorUsername),
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString()
  })
  // Object.assign, not a spread, which copies the list fields into a new literal at a cost.
  const detail = (row: BookWithCreator & { reviewCount: number }, newest: ReviewWithAuthor[]): BookDetail =>
    Object.assign(list(row), { review_count: row.reviewCount, reviews: newest.map(reviewShape) })
  /** A book just created: its creator is the caller and it has no reviews yet. */
  const created = (row: BookRow, creatorUsername: string): BookDetail => detail({ ...row, creatorUsername, reviewCount: 0 }, [])
  return { list, detail, created }
}
