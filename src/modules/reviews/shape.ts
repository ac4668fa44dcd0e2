import { userRef } from '../shared/user-ref.js'
import type { ReviewWithAuthor } from './reviews.js'
import type { Review } from './schemas.js'

/** A review the way the API answers it. */
export const reviewShape = (row: ReviewWithAuthor): Review => ({
  id: row.id,
  review: row.review,
  author: userRef(row.authorId, row.authorUsername),
  created_at: row.createdAt.toISOString()
})
