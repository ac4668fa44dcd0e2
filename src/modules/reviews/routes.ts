import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errorResponses } from '../../errors/schema.js'
import { callerOf } from '../../plugins/auth.js'
import { recordAnswer, sendAnswer } from '../../plugins/idempotency.js'
import { toPage } from '../shared/pagination.js'
import { bearer, parseIntegerId } from '../shared/routes.js'
import { parseBookId } from '../books/books.js'
import { createReview, deleteReview, listReviews } from './reviews.js'
import { reviewShape } from './shape.js'
import { BookReviewsParams, Review, ReviewIdParams, ReviewListQuery, ReviewPage, ReviewWrite } from './schemas.js'

export interface ReviewRoutesOptions {
  publicUrl: string
}

/** `/api/v1/books/{id}/reviews`: anyone reads, users write, authors (or admins) delete. */
const reviewRoutes: FastifyPluginAsyncTypebox<ReviewRoutesOptions> = async (app, { publicUrl }) => {
  app.get('/:id/reviews', {
    schema: {
      tags: ['reviews'],
      operationId: 'listReviews',
      summary: "A book's reviews, newest first",
      description: 'Every review of the book, a page at a time (the book detail carries only the 10 newest). An unknown book is 404.',
      params: BookReviewsParams,
      querystring: ReviewListQuery,
      response: { 200: ReviewPage, ...errorResponses(400, 404) }
    },
    handler: async (request) => {
      const { rows, count } = await listReviews(app.db, parseBookId(request.params.id), request.query)
      return toPage(request, publicUrl, request.query, count, rows.map(reviewShape))
    }
  })

  app.post('/:id/reviews', {
    onRequest: app.authenticate,
    schema: {
      tags: ['reviews'],
      operationId: 'createReview',
      summary: 'Review a book (any user)',
      description: 'The caller becomes the author. A user may review a book more than once.',
      security: bearer(),
      params: BookReviewsParams,
      body: ReviewWrite,
      response: { 201: Review, ...errorResponses(400, 401, 404, 415) }
    },
    handler: async (request, reply) => {
      const bookId = parseBookId(request.params.id)
      const answer = await app.database.transaction(async (tx) => {
        const review = await createReview(tx, bookId, callerOf(request), request.body.review)
        return recordAnswer(tx, request, reply, { statusCode: 201, body: reviewShape(review) })
      })
      return sendAnswer(reply, answer)
    }
  })

  app.delete('/:id/reviews/:review_id', {
    onRequest: app.authenticate,
    schema: {
      tags: ['reviews'],
      operationId: 'deleteReview',
      summary: 'Delete a review (its author or an admin)',
      description: "Anyone else gets 403; the book's review count drops by one.",
      security: bearer(),
      params: ReviewIdParams,
      response: { 204: Type.Null({ description: 'Deleted' }), ...errorResponses(401, 403, 404) }
    },
    handler: async (request, reply) => {
      const [bookId, reviewId] = [parseBookId(request.params.id), parseIntegerId(request.params.review_id, 'Review')]
      const answer = await app.database.transaction(async (tx) => {
        await deleteReview(tx, bookId, reviewId, callerOf(request))
        return recordAnswer(tx, request, reply, { statusCode: 204 })
      })
      return sendAnswer(reply, answer)
    }
  })
}

export default reviewRoutes
