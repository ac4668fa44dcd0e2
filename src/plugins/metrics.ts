import { hash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { collectDefaultMetrics } from 'prom-client'
import { sql } from 'drizzle-orm'
import { AppError } from '../errors/app-error.js'
import { withTimeout } from '../lib/timeout.js'
import { mediaDeletions } from '../db/schema.js'
import type { Db } from '../db/client.js'
import type { Metrics } from '../metrics/instruments.js'

export interface MetricsPluginOptions {
  metrics: Metrics
  /** The bearer token a scraper sends (`METRICS_TOKEN`). */
  token: string
}

const OUTBOX_TIMEOUT_MS = 2000

/** Node's HTTP parser knows a few dozen methods; only these are routed, the rest share one label. */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])

/**
 * `GET /metrics` in the Prometheus text format, for a scraper holding `METRICS_TOKEN`, and
 * the timing of every request. Registered only when the token is set. The route is left
 * out of the OpenAPI document: it is the operator's, not the API's.
 */
async function metricsPlugin(app: FastifyInstance, { metrics, token }: MetricsPluginOptions) {
  collectDefaultMetrics({ register: metrics.registry })
  metrics.watch({
    ...(app.database.poolFigures ? { pool: app.database.poolFigures } : {}),
    imageQueue: app.media.queueFigures,
    deletions: () => withTimeout(outboxFigures(app.db), OUTBOX_TIMEOUT_MS)
  })

  // Callback-style: an async hook costs a promise per request. Fastify has timed the request.
  app.addHook('onResponse', (request, reply, done) => {
    metrics.request(METHODS.has(request.method) ? request.method : 'other', request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000)
    done()
  })

  const expected = digest(token)
  app.get('/metrics', {
    schema: { hide: true },
    onRequest: (request, _reply, done) => done(authorize(request, expected)),
    handler: async (_request, reply) => {
      reply.header('cache-control', 'no-store').type(metrics.registry.contentType)
      return metrics.registry.metrics()
    }
  })
}

const digest = (value: string) => hash('sha256', value, 'buffer')

/** The token compared in constant time (digests of equal length), so its bytes cannot be guessed one by one. */
function authorize(request: FastifyRequest, expected: Buffer): AppError | undefined {
  const header = request.headers.authorization
  // The scheme is case-insensitive (RFC 9110), as for the API's own tokens.
  if (header === undefined || !/^Bearer /i.test(header)) return new AppError('UNAUTHORIZED', 'The metrics need the bearer token METRICS_TOKEN', { 'WWW-Authenticate': 'Bearer' })
  if (!timingSafeEqual(digest(header.slice('Bearer '.length)), expected)) return new AppError('TOKEN_INVALID', 'The metrics token is not the one configured', { 'WWW-Authenticate': 'Bearer error="invalid_token"' })
  return undefined
}

/** One aggregate over the outbox, which stays small: it holds only deletions not yet done. */
async function outboxFigures(db: Db): Promise<{ pending: number; failed: number }> {
  const [row] = await db
    .select({ pending: sql<number>`count(*)::int`, failed: sql<number>`(count(*) filter (where ${mediaDeletions.lastError} is not null))::int` })
    .from(mediaDeletions)
  return row ?? { pending: 0, failed: 0 }
}

export default fp(metricsPlugin, { name: 'metrics', fastify: '5.x', dependencies: ['db', 'media'] })
