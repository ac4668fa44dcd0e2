import type { FastifyReply } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type, type Static } from '@sinclair/typebox'
import { AppError } from '../../errors/app-error.js'
import { withTimeout } from '../../lib/timeout.js'
import { errorResponses } from '../../errors/schema.js'

const CHECK_TIMEOUT_MS = 2000

const Status = Type.Object({ status: Type.Literal('ok') }, { description: 'The service is up' })
const healthy: Static<typeof Status> = { status: 'ok' }

// A probe must see this instance now, never a cached answer.
const noStore = <T>(reply: FastifyReply, body: T) => {
  reply.header('cache-control', 'no-store')
  return body
}

const Link = (description: string) => Type.String({ format: 'uri', description })

const ApiRoot = Type.Object(
  {
    docs: Link('The interactive API documentation'),
    openapi: Link('The OpenAPI 3 document, to import into Postman or generate a client from'),
    posts: Link('The blog posts'),
    books: Link('The books, with their reviews'),
    register: Link('Create an account'),
    login: Link('Get a token'),
    me: Link('The caller, with a token')
  },
  { title: 'ApiRoot', description: 'Where to start: the documentation and every collection' }
)

export interface OpsRoutesOptions {
  publicUrl: string
}

const opsRoutes: FastifyPluginAsyncTypebox<OpsRoutesOptions> = async (app, { publicUrl }) => {
  const api = `${publicUrl}/api/v1`
  const root: Static<typeof ApiRoot> = {
    docs: `${publicUrl}/docs`,
    openapi: `${publicUrl}/openapi.json`,
    posts: `${api}/posts`,
    books: `${api}/books`,
    register: `${api}/auth/register`,
    login: `${api}/auth/login`,
    me: `${api}/auth/me`
  }
  for (const [url, operationId] of [['/', 'getRoot'], ['/api/v1', 'getApiRoot']] as const) {
    app.get(url, {
      schema: {
        tags: ['operations'],
        operationId,
        summary: 'Links to the documentation and to every collection',
        description: 'Django REST Framework-style API root: a client or a curious developer starts here.',
        response: { 200: ApiRoot, ...errorResponses() }
      },
      handler: async () => root
    })
  }

  app.get('/healthz', {
    schema: {
      tags: ['operations'],
      operationId: 'getHealth',
      summary: 'Liveness: 200 while the process runs',
      description: 'Touches neither the database nor the media store: restart the process only when this fails.',
      response: { 200: Status }
    },
    handler: async (_request, reply) => noStore(reply, healthy)
  })

  app.get('/readyz', {
    schema: {
      tags: ['operations'],
      operationId: 'getReadiness',
      summary: 'Readiness: 200 when the database and the media store answer, 503 naming the one that does not',
      description: 'Each dependency gets 2 seconds to answer. Send traffic to an instance only while this is 200.',
      response: { 200: Status, 503: errorResponses(503)[503] }
    },
    handler: async (request, reply) => {
      try {
        await app.pingDatabase(CHECK_TIMEOUT_MS)
      } catch {
        throw new AppError('DATABASE_UNAVAILABLE', 'The database is not answering')
      }
      try {
        await withTimeout(app.media.store.check(), CHECK_TIMEOUT_MS)
      } catch (error) {
        request.log.warn({ err: error }, 'media store check failed')
        throw new AppError('STORAGE_UNAVAILABLE', 'The media store is not answering')
      }
      return noStore(reply, healthy)
    }
  })
}

export default opsRoutes
