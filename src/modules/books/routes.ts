import type { FastifyReply, FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type, type TSchema } from '@sinclair/typebox'
import { errorResponses } from '../../errors/schema.js'
import { callerOf } from '../../plugins/auth.js'
import { answering, sendAnswer } from '../../plugins/idempotency.js'
import { toPage } from '../shared/pagination.js'
import { bearer, created, UPLOAD_ERRORS } from '../shared/routes.js'
import { assertCanChange, bookWrites, findBookDetail, listBooks, parseBookId } from './books.js'
import { BookCover, BookDetail, BookIdParams, BookListQuery, BookPage, BookPatch, BookWrite } from './schemas.js'
import { bookShapes } from './shape.js'

export interface BookRoutesOptions {
  publicUrl: string
}

const bookRoutes: FastifyPluginAsyncTypebox<BookRoutesOptions> = async (app, { publicUrl }) => {
  const bookUrl = (id: string) => `${publicUrl}/api/v1/books/${id}`
  const shape = bookShapes(app.media.url)
  const books = bookWrites(app.media.context())

  app.get('/', {
    schema: {
      tags: ['books'],
      operationId: 'listBooks',
      summary: 'List books',
      description: 'Newest first by default; `search` looks in title and author; `creator` filters by user id.',
      querystring: BookListQuery,
      response: { 200: BookPage, ...errorResponses(400, 404) }
    },
    handler: async (request) => {
      const { rows, count } = await listBooks(app.db, request.query)
      return toPage(request, publicUrl, request.query, count, rows.map(shape.list))
    }
  })

  app.get('/:id', {
    schema: {
      tags: ['books'],
      operationId: 'getBook',
      summary: 'A book with its 10 newest reviews',
      description: 'All of its reviews are in `GET /api/v1/books/{id}/reviews`. A malformed or unknown id is 404.',
      params: BookIdParams,
      response: { 200: BookDetail, ...errorResponses(404) }
    },
    handler: async (request) => shape.detail(...(await findBookDetail(app.db, parseBookId(request.params.id))))
  })

  app.post('/', {
    onRequest: app.authenticate,
    schema: {
      tags: ['books'],
      operationId: 'createBook',
      summary: 'Add a book (any user; the caller becomes its creator)',
      description: 'Send `multipart/form-data` to upload a cover (`-F cover=@cover.jpg`), or JSON without one.',
      security: bearer(),
      body: BookWrite,
      response: { 201: created(BookDetail), ...errorResponses(...UPLOAD_ERRORS) }
    },
    handler: async (request, reply) => {
      const caller = callerOf(request)
      const answer = await books.create(caller, request.body, answering(request, reply, (_tx, book) =>
        ({ statusCode: 201, headers: { location: bookUrl(book.id) }, body: shape.created(book, caller.username) })
      ))
      return sendAnswer(reply, answer)
    }
  })

  // Runs before the body is read: a stranger's upload is refused, not received and processed.
  const requireCreatorOrAdmin = async (request: FastifyRequest & { params: { id: string } }) => {
    await assertCanChange(app.db, parseBookId(request.params.id), callerOf(request))
  }

  // Every change of a book is a patch: PUT's body is a PATCH's with every field present,
  // and the cover routes change the cover alone.
  const change = async (request: FastifyRequest & { params: { id: string } }, reply: FastifyReply, patch: BookPatch) => {
    const id = parseBookId(request.params.id)
    const answer = await books.update(id, patch, answering(request, reply, async (tx) => ({ statusCode: 200, body: shape.detail(...(await findBookDetail(tx, id))) })))
    return sendAnswer(reply, answer)
  }
  const update = (request: FastifyRequest<{ Params: { id: string }; Body: BookPatch }>, reply: FastifyReply) => change(request, reply, request.body)
  const writeSchema = <B extends TSchema>(operationId: string, summary: string, description: string, body: B) => ({
    tags: ['books'],
    operationId,
    summary,
    description,
    security: bearer(),
    params: BookIdParams,
    body,
    response: { 200: BookDetail, ...errorResponses(...UPLOAD_ERRORS, 404) }
  })

  app.put('/:id', {
    onRequest: app.authenticate,
    preValidation: requireCreatorOrAdmin,
    schema: writeSchema('replaceBook', 'Replace a book (its creator or an admin)', 'Every field is required; the cover is kept unless sent. An empty cover (or JSON null) removes it.', BookWrite),
    handler: update
  })

  app.patch('/:id', {
    onRequest: app.authenticate,
    preValidation: requireCreatorOrAdmin,
    schema: writeSchema('updateBook', 'Change some fields of a book (its creator or an admin)', 'Only the fields sent change. An empty cover (or JSON null) removes it.', BookPatch),
    handler: update
  })

  app.put('/:id/cover', {
    onRequest: app.authenticate,
    preValidation: requireCreatorOrAdmin,
    schema: writeSchema(
      'setBookCover',
      'Upload or replace the cover (its creator or an admin)',
      'A `multipart/form-data` form with the image in `cover` and no other field: the way for a generated client to send a file. The old cover is deleted once the new one is in place.',
      BookCover
    ),
    handler: (request, reply) => change(request, reply, { cover: request.body.cover })
  })

  app.delete('/:id/cover', {
    onRequest: app.authenticate,
    preValidation: requireCreatorOrAdmin,
    schema: {
      tags: ['books'],
      operationId: 'deleteBookCover',
      summary: 'Remove the cover (its creator or an admin)',
      description: 'The book stays; its cover is deleted from the media store after the change is saved. A book without a cover answers as it is.',
      security: bearer(),
      params: BookIdParams,
      response: { 200: BookDetail, ...errorResponses(401, 403, 404) }
    },
    handler: (request, reply) => change(request, reply, { cover: null })
  })

  app.delete('/:id', {
    onRequest: app.authenticate,
    preValidation: requireCreatorOrAdmin,
    schema: {
      tags: ['books'],
      operationId: 'deleteBook',
      summary: 'Delete a book, its reviews and its cover (its creator or an admin)',
      description: 'The cover is deleted from the media store after the book is gone.',
      security: bearer(),
      params: BookIdParams,
      response: { 204: Type.Null({ description: 'Deleted' }), ...errorResponses(401, 403, 404) }
    },
    handler: async (request, reply) => {
      const answer = await books.remove(parseBookId(request.params.id), answering(request, reply, () => ({ statusCode: 204 })))
      return sendAnswer(reply, answer)
    }
  })
}

export default bookRoutes
