import type { IncomingMessage, ServerResponse } from 'node:http'
import fp from 'fastify-plugin'
import helmet, { type HelmetOptions } from 'helmet'

/**
 * Helmet's security headers on every answer. With static options (no per-request nonce)
 * helmet always sets the same headers, so they are worked out once, at start, and copied
 * onto each answer: running helmet's chain of middlewares per request (as
 * @fastify/helmet does, rebuilding it each time) was pure per-request cost.
 */
export default fp<HelmetOptions>(
  async (app, options) => {
    const headers = helmetHeaders(options)
    // On the raw answer, as helmet sets them: a route may still override one (local media set their own CSP).
    app.addHook('onRequest', (_request, reply, done) => {
      for (const [name, value] of headers) reply.raw.setHeader(name, value)
      done()
    })
  },
  { name: 'security-headers' }
)

/** The headers helmet sets with these options, in its order. */
export function helmetHeaders(options: HelmetOptions): Array<[string, string]> {
  const headers: Array<[string, string]> = []
  const response = { setHeader: (name: string, value: unknown) => headers.push([name, String(value)]), removeHeader: () => {} }
  let failure: unknown
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, (error?: unknown) => (failure = error))
  if (failure) throw failure
  return headers
}
