import { IncomingMessage, ServerResponse } from 'node:http'
import { Socket } from 'node:net'
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
    // On the raw answer, where helmet sets them: a route may still override one (local media set their own CSP).
    app.addHook('onRequest', (_request, reply, done) => {
      for (const [name, value] of headers) reply.raw.setHeader(name, value)
      done()
    })
  },
  { name: 'security-headers' }
)

/** The headers helmet sets with these options, read off an answer it was given at start. */
export function helmetHeaders(options: HelmetOptions): Array<[string, string]> {
  const response = new ServerResponse(new IncomingMessage(new Socket()))
  let failure: unknown
  helmet(options)(response.req, response, (error?: unknown) => (failure = error))
  if (failure) throw failure
  return Object.entries(response.getHeaders()).map(([name, value]) => [name, String(value)])
}
