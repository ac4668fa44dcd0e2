import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type, type Static } from '@sinclair/typebox'
import { AppError } from '../../errors/app-error.js'
import { withTimeout } from '../../lib/timeout.js'
import { errorResponses } from '../../errors/schema.js'

const CHECK_TIMEOUT_MS = 2000

const Status = Type.Object({ status: Type.Literal('ok') }, { description: 'The service is up' })
const healthy: Static<typeof Status> = { status: 'ok' }

const opsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/healthz', {
    schema: {
      tags: ['operations'],
      operationId: 'getHealth',
      summary: 'Liveness: 200 while the process runs',
      description: 'Touches neither the database nor the media store: restart the process only when this fails.',
      response: { 200: Status }
    },
    handler: async () => healthy
  })

  app.get('/readyz', {
    schema: {
      tags: ['operations'],
      operationId: 'getReadiness',
      summary: 'Readiness: 200 when the database and the media store answer, 503 naming the one that does not',
      description: 'Each dependency gets 2 seconds to answer. Send traffic to an instance only while this is 200.',
      response: { 200: Status, 503: errorResponses(503)[503] }
    },
    handler: async (request) => {
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
      return healthy
    }
  })
}

export default opsRoutes
