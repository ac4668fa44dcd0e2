import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Db } from '../../db/client.js'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errorResponses } from '../../errors/schema.js'
import { recordAnswer, sendAnswer } from '../../plugins/idempotency.js'
import { toPage } from '../shared/pagination.js'
import { bearer, imageChange, UPLOAD_ERRORS } from '../shared/routes.js'
import { userRef } from '../shared/user-ref.js'
import { assertCanChange, createBook, deleteBook, findBook, listBooks, parseBookId, updateBook, type BookInput, type BookWithCreator } from './books.js'
import { newestReviews, type ReviewWithAuthor } from './reviews.js'
import { BookDetail, BookIdParams, BookList, BookListQuery, BookPage, BookPatch, BookWrite, type BookWriteBody, type Review } from './schemas.js'

export interface BookRoutesOptions {
  publicUrl: string
}

export const toReview = (row: ReviewWithAuthor): Review => ({
  id: row.id,
  review: row.review,
  author: userRef(row.authorId, row.authorUsername),
  created_at: row.createdAt.toISOString()
})

const toInput = (body: BookWriteBody): BookInput => ({ title: body.title, author: body.author, price: body.price })

const bookRoutes: FastifyPluginAsyncTypebox<BookRoutesOptions> = async (app, { publicUrl }) => {
  const bookUrl = (id: string) => `${publicUrl}/api/v1/books/${id}`

  const toList = (row: BookWithCreator): BookList => ({
    id: row.id,
    title: row.title,
    author: row.author,
    price: row.price,
    cover: app.media.url(row.cover),
    creator: userRef(row.creatorId, row.creatorUsername),
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString()
  })

  /** The detail in two queries: the book with its creator and review count, then its newest reviews. */
  const detail = async (db: Db, id: string): Promise<BookDetail> => {
    const [book, newest] = await Promise.all([findBook(db, id), newestReviews(db, id)])
    // Object.assign, not a spread, which copies the list fields into a new literal at a cost.
    return Object.assign(toList(book), { review_count: book.reviewCount, reviews: newest.map(toReview) })
  }

  app.get('/', {
    schema: {
      tags: ['books'],
      summary: 'List books',
      description: 'Newest first by default; `search` looks in title and author; `creator` filters by user id.',
      querystring: BookListQuery,
      response: { 200: BookPage, ...errorResponses(400, 404) }
    },
    handler: async (request) => {
      const { rows, count } = await listBooks(app.db, request.query)
      return toPage(request, publicUrl, request.query, count, rows.map(toList))
    }
  })

  app.get('/:id', {
    schema: {
      tags: ['books'],
      summary: 'A book with its 10 newest reviews',
      params: BookIdParams,
      response: { 200: BookDetail, ...errorResponses(404) }
    },
    handler: async (request) => detail(app.db, parseBookId(request.params.id))
  })

  app.post('/', {
    onRequest: app.authenticate,
    preValidation: app.multipartForm(['cover']),
    schema: {
      tags: ['books'],
      summary: 'Add a book (any user; the caller becomes its creator)',
      description: 'Send `multipart/form-data` to upload a cover (`-F cover=@cover.jpg`), or JSON without one.',
      security: bearer(),
      body: BookWrite,
      response: { 201: BookDetail, ...errorResponses(...UPLOAD_ERRORS) }
    },
    handler: async (request, reply) => {
      const cover = (await imageChange(app, request, 'cover')) ?? undefined
      // A new book has no reviews yet and its creator is the caller: nothing to read back.
      const answer = await createBook(app.media.context(request.log), request.user.id, toInput(request.body as BookWriteBody) as Required<BookInput>, cover, (tx, book) =>
        recordAnswer(tx, request, reply, {
          statusCode: 201,
          headers: { location: bookUrl(book.id) },
          body: { ...toList({ ...book, creatorUsername: request.user.username }), review_count: 0, reviews: [] } satisfies BookDetail
        })
      )
      return sendAnswer(reply, answer)
    }
  })

  // Runs before the body is read: a stranger's upload is refused, not received and processed.
  const requireCreatorOrAdmin = async (request: FastifyRequest) => {
    await assertCanChange(app.db, parseBookId((request.params as { id: string }).id), request.user)
  }

  const update = async (request: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
    const id = parseBookId(request.params.id)
    const cover = await imageChange(app, request, 'cover')
    const answer = await updateBook(app.media.context(request.log), id, toInput(request.body as BookWriteBody), cover, async (tx) =>
      recordAnswer(tx, request, reply, { statusCode: 200, body: await detail(tx, id) })
    )
    return sendAnswer(reply, answer)
  }
  const writeSchema = (summary: string, description: string, body: typeof BookWrite | typeof BookPatch) => ({
    tags: ['books'],
    summary,
    description,
    security: bearer(),
    params: BookIdParams,
    body,
    response: { 200: BookDetail, ...errorResponses(...UPLOAD_ERRORS, 404) }
  })

  app.put('/:id', {
    onRequest: app.authenticate,
    preValidation: [requireCreatorOrAdmin, app.multipartForm(['cover'])],
    schema: writeSchema('Replace a book (its creator or an admin)', 'Every field is required; the cover is kept unless sent. An empty cover (or JSON null) removes it.', BookWrite),
    handler: update
  })

  app.patch('/:id', {
    onRequest: app.authenticate,
    preValidation: [requireCreatorOrAdmin, app.multipartForm(['cover'])],
    schema: writeSchema('Change some fields of a book (its creator or an admin)', 'Only the fields sent change. An empty cover (or JSON null) removes it.', BookPatch),
    handler: update
  })

  app.delete('/:id', {
    onRequest: app.authenticate,
    preValidation: requireCreatorOrAdmin,
    schema: {
      tags: ['books'],
      summary: 'Delete a book, its reviews and its cover (its creator or an admin)',
      security: bearer(),
      params: BookIdParams,
      response: { 204: Type.Null({ description: 'Deleted' }), ...errorResponses(401, 403, 404) }
    },
    handler: async (request, reply) => {
      const answer = await deleteBook(app.media.context(request.log), parseBookId(request.params.id), (tx) => recordAnswer(tx, request, reply, { statusCode: 204 }))
      return sendAnswer(reply, answer)
    }
  })
}

export default bookRoutes
