import { hash } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'

export interface HttpCachingOptions {
  /** How long a shared cache may serve a public answer without asking again (0: always ask). */
  maxAgeSeconds: number
}

const READS = new Set(['GET', 'HEAD'])

/**
 * Conditional GETs and cache rules for every answer the routes make.
 *
 * - A successful read gets a strong `ETag`: a hash of the exact bytes sent, so it changes
 *   whenever anything in the body does. A matching `If-None-Match` answers 304 with no body.
 * - A read without `Authorization` is the same for everyone (only an admin sees drafts,
 *   and only with a token): it is `public`. A read with one is `private`. Both carry
 *   `Vary: Authorization`, so a cache that keys on it keeps them apart.
 * - Writes, errors and anything else are `no-store`: an error or a token is never replayed
 *   by a cache.
 *
 * Answers that set their own `Cache-Control` (stored media, the documentation's assets)
 * keep it.
 */
async function httpCaching(app: FastifyInstance, { maxAgeSeconds }: HttpCachingOptions) {
  const publicRead = maxAgeSeconds > 0 ? `public, max-age=${maxAgeSeconds}, stale-while-revalidate=${maxAgeSeconds}` : 'public, max-age=0, must-revalidate'

  // Callback-style: an async hook costs a promise per request.
  app.addHook('onSend', (request, reply, payload, done) => {
    if (reply.hasHeader('cache-control')) return done(null, payload)
    if (!READS.has(request.method) || reply.statusCode !== 200 || !(typeof payload === 'string' || Buffer.isBuffer(payload))) {
      reply.header('cache-control', 'no-store')
      return done(null, payload)
    }
    reply.header('cache-control', request.headers.authorization === undefined ? publicRead : 'private, no-cache')
    // Added to what is there: CORS answers vary on Origin too.
    const vary = reply.getHeader('vary')
    reply.header('vary', vary === undefined ? 'Authorization' : `${String(vary)}, Authorization`)
    // The one-shot hash: a Hash object per answer measurably costs more.
    const etag = `"${hash('sha1', payload, 'base64url')}"`
    reply.header('etag', etag)
    if (!matches(request, etag)) return done(null, payload)
    reply.code(304)
    reply.removeHeader('content-type')
    done(null, '')
  })
}

/** `If-None-Match` compares weakly (RFC 9110, 13.1.2): `W/"x"` matches `"x"`, and `*` matches any. */
function matches(request: FastifyRequest, etag: string): boolean {
  const header = request.headers['if-none-match']
  if (header === undefined) return false
  if (header.trim() === '*') return true
  return header.split(',').some((candidate) => candidate.trim().replace(/^W\//, '') === etag)
}

export default fp(httpCaching, { name: 'http-caching', fastify: '5.x' })
