import fp from 'fastify-plugin'
import helmet, { type HelmetOptions } from 'helmet'

/**
 * Helmet's security headers on every answer. The middleware is built once, at start:
 * @fastify/helmet builds it anew on every request (to allow per-route options, which this
 * service has no use for), and that cost about a tenth of the CPU of a simple read.
 */
export default fp<HelmetOptions>(
  async (app, options) => {
    const setHeaders = helmet(options)
    app.addHook('onRequest', (request, reply, done) => setHeaders(request.raw, reply.raw, (error) => done(error as Error | undefined)))
  },
  { name: 'security-headers' }
)
