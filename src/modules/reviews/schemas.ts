import { Type, type Static } from '@sinclair/typebox'
import { Page, PageQuery } from '../shared/pagination.js'
import { UserRef } from '../shared/user-ref.js'
import { BookId, IntegerId } from '../shared/ids.js'

export const Review = Type.Object(
  {
    id: Type.Integer(),
    review: Type.String(),
    author: UserRef,
    created_at: Type.String({ format: 'date-time' })
  },
  { title: 'Review', description: 'A review of a book' }
)
export type Review = Static<typeof Review>

export const ReviewWrite = Type.Object(
  { review: Type.String({ minLength: 1, maxLength: 255, description: '1-255 characters', example: 'A classic.' }) },
  { title: 'ReviewWrite', additionalProperties: false }
)
export type ReviewWrite = Static<typeof ReviewWrite>

export const ReviewPage = Page(Review, 'ReviewPage')

export const ReviewListQuery = Type.Object(
  { page: PageQuery.page, page_size: PageQuery.page_size }
)
export type ReviewListQuery = Static<typeof ReviewListQuery>

/** The book whose reviews these are. */
export const BookReviewsParams = Type.Object({ id: BookId })

export const ReviewIdParams = Type.Object({ id: BookId, review_id: IntegerId('Review id (a malformed id is 404)') })
