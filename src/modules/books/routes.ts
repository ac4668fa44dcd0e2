import type { FastifyReply, FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errorResponses } from '../../errors/schema.js'
import { callerOf } from '../../plugins/auth.js'
import { answering, sendAnswer } from '../../plugins/idempotency.js'
import { toPage } from '../shared/pagination.js'
import { bearer, UPLOAD_ERRORS } from '../shared/routes.js'
import { assertCanChange, bookWrites, findBookDetail, listBooks, parseBookId } from './books.js'
import { BookDetail, BookIdParams, BookListQuery, BookPage, BookPatch, BookWrite } from './schemas.js'
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
      summary: 'A book with its 10 newest reviews',
      params: BookIdParams,
      response: { 200: BookDetail, ...errorResponses(404) }
    },
    handler: async (request) => shape.detail(...(await findBookDetail(app.db, parseBookId(request.params.id))))
  })

  app.post('/', {
    onRequest: app.authenticate,
    schema: {
      tags: ['books'],
      summary: 'Add a book (any user; the caller becomes its creator)',
      description: 'Send `multipart/form-data` to upload a cover (`-F cover=@cover.jpg`), or JSON without one.',
      security: bearer(),
      body: BookWrite,
      response: { 201: BookDetail, ...errorResponses(...UPLOAD_ERRORS) }
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

  // PUT's body is a PATCH's with every field present.
  const update = async (request: FastifyRequest<{ Params: { id: string }; Body: BookPatch }>, reply: FastifyReply) => {
    const id = parseBookId(request.params.id)
    const answer = await books.update(id, request.body, answering(request, reply, async (tx) => ({ statusCode: 200, body: shape.detail(...(await findBookDetail(tx, id))) })))
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
    preValidation: requireCreatorOrAdmin,
    schema: writeSchema('Replace a book (its creator or an admin)', 'Every field is required; the cover is kept unless sent. An empty cover (or JSON null) removes it.', BookWrite),
    handler: update
  })

  app.patch('/:id', {
    onRequest: app.authenticate,
    preValidation: requireCreatorOrAdmin,
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
      const answer = await books.remove(parseBookId(request.params.id), answering(request, reply, () => ({ statusCode: 204 })))
      return sendAnswer(reply, answer)
    }
  })
}

export default bookRoutes
