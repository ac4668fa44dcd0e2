import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { AppError } from '../../errors.js'
import { errorResponses } from '../../plugins/errors.js'

const Status = Type.Object({ status: Type.Literal('ok') }, { description: 'The service is up' })

const opsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/healthz', {
    schema: { tags: ['operations'], summary: 'Liveness: 200 while the process runs', response: { 200: Status } },
    handler: async () => ({ status: 'ok' as const })
  })

  app.get('/readyz', {
    schema: {
      tags: ['operations'],
      summary: 'Readiness: 200 when the database answers, 503 naming what does not',
      response: { 200: Status, 503: errorResponses(503)[503] }
    },
    handler: async () => {
      try {
        await app.pingDatabase(2000)
      } catch {
        throw new AppError(503, 'DATABASE_UNAVAILABLE', 'The database is not answering')
      }
      return { status: 'ok' as const }
    }
  })
}

export default opsRoutes
