import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import fastifyCors from '@fastify/cors'
import { AppError } from '../errors/app-error.js'

export interface CorsOptions {
  /** `CORS_ORIGINS`: `*`, a list, or false when unset. */
  origins: string[] | '*' | false
  /** Development allows local frontends (`http://localhost:*`, `http://127.0.0.1:*`) when `CORS_ORIGINS` is unset. */
  development: boolean
}

const LOCAL_ORIGINS = [/^http:\/\/localhost(:\d{1,5})?$/, /^http:\/\/127\.0\.0\.1(:\d{1,5})?$/]

/**
 * Browser access from other origins. A preflight from an origin that is not allowed gets
 * a JSON 403 that says so and names `CORS_ORIGINS`, instead of a bare answer without CORS
 * headers that only the browser's console explains. Simple requests are answered as
 * always (the browser alone decides not to show them).
 */
async function cors(app: FastifyInstance, { origins, development }: CorsOptions) {
  const allowed = origins === false && development ? LOCAL_ORIGINS : origins
  const isAllowed = (origin: string) => allowed === '*' || (allowed !== false && allowed.some((rule) => (typeof rule === 'string' ? rule === origin : rule.test(origin))))

  // Before @fastify/cors's own hook, which answers every preflight.
  app.addHook('onRequest', (request, _reply, done) => {
    const origin = request.headers.origin
    if (request.method !== 'OPTIONS' || origin === undefined || request.headers['access-control-request-method'] === undefined || isAllowed(origin)) return done()
    const advice = allowed === false ? 'CORS_ORIGINS is not set, so no origin is' : 'it is not in CORS_ORIGINS'
    done(new AppError('CORS_ORIGIN_NOT_ALLOWED', `The origin ${origin} may not call this API from a browser: ${advice}. Add it to CORS_ORIGINS (comma-separated origins, or *)`))
  })
  if (allowed === false) return
  await app.register(fastifyCors, {
    origin: allowed,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    exposedHeaders: ['Location', 'Retry-After', 'X-Request-Id', 'Idempotent-Replayed', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'ETag'],
    maxAge: 600
  })
}

export default fp(cors, { name: 'cors', fastify: '5.x' })
