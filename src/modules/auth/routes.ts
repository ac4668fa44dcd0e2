import type { FastifyReply } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { RateLimitConfig } from '../../config.js'
import { AppError, forbidden } from '../../errors/app-error.js'
import { errorResponses } from '../../errors/schema.js'
import { callerOf } from '../../plugins/auth.js'
import { recordAnswer, sendAnswer } from '../../plugins/idempotency.js'
import { decoyHash, hashPassword, verifyPassword } from './passwords.js'
import { LoginBody, RegisterBody, Token, User } from './schemas.js'
import { userShape } from './shape.js'
import { findUserByUsername, insertUser, loginKey, normalizeUsername } from './users.js'

export interface AuthRoutesOptions {
  allowRegistration: boolean
  expiresInSeconds: number
  rateLimits: RateLimitConfig
}

const invalidCredentials = () => new AppError('INVALID_CREDENTIALS')

const MINUTE = 60_000
const HOUR = 60 * MINUTE

interface Attempt {
  isAllowed: boolean
  isExceeded?: boolean
  max?: number
  remaining?: number
  ttlInSeconds?: number
}

/**
 * A limit counted by hand (on a key the route only knows later): 429 past it, and its
 * headers when it is the tighter of the route's limits (the headers describe one limit).
 */
function enforce(attempt: Attempt, reply: FastifyReply, what: string) {
  if (attempt.isAllowed) return
  const seconds = String(attempt.ttlInSeconds ?? 0)
  const shown = reply.getHeader('ratelimit-remaining')
  if (shown === undefined || Number(shown) > (attempt.remaining ?? 0) || attempt.isExceeded) {
    reply.header('ratelimit-limit', attempt.max).header('ratelimit-remaining', attempt.remaining).header('ratelimit-reset', seconds)
  }
  if (attempt.isExceeded) throw new AppError('RATE_LIMITED', `Too many ${what}, retry in ${seconds} seconds`, { 'Retry-After': seconds })
}

const authRoutes: FastifyPluginAsyncTypebox<AuthRoutesOptions> = async (app, options) => {
  // Each registration costs a memory-hard hash: per address, and all together, so that
  // neither one client nor a botnet can spend the server's CPU on it.
  const countRegistration = app.createRateLimit({ max: options.rateLimits.registerGlobal, timeWindow: MINUTE, keyGenerator: () => 'register:all' })

  app.post('/register', {
    config: { rateLimit: { max: options.rateLimits.register, timeWindow: HOUR } },
    preHandler: async (request, reply) => enforce(await countRegistration(request), reply, 'registrations on this server'),
    // Validate the name in the form it will be stored in: NFKC can lengthen a name or change its characters.
    preValidation: async (request) => {
      const body: unknown = request.body
      if (typeof body === 'object' && body !== null && 'username' in body && typeof body.username === 'string') body.username = normalizeUsername(body.username)
    },
    schema: {
      tags: ['auth'],
      operationId: 'register',
      summary: 'Create a user account',
      description:
        'Answers 403 when the server runs with `ALLOW_REGISTRATION=false`. Rate-limited per client address (`REGISTER_RATE_LIMIT` an hour) and for all clients together (`REGISTER_RATE_LIMIT_GLOBAL` a minute): 429 with `Retry-After`.',
      body: RegisterBody,
      response: { 201: User, ...errorResponses(400, 403, 409, 415, 429) }
    },
    handler: async (request, reply) => {
      if (!options.allowRegistration) throw forbidden('Registration is closed on this server')
      const passwordHash = await hashPassword(request.body.password)
      const answer = await app.database.transaction(async (tx) => {
        const row = await insertUser(tx, { ...request.body, passwordHash })
        return recordAnswer(tx, request, reply, { statusCode: 201, body: userShape(row) })
      })
      return sendAnswer(reply, answer)
    }
  })

  // Two limits: per client address (before the body is read) and per account (after), so
  // neither one address nor a botnet can guess one account's password quickly. The account
  // is its user id once the name resolves, else the name the way the database compares it.
  const loginKeys = new WeakMap<object, string>()
  const countAccountAttempt = app.createRateLimit({
    max: options.rateLimits.login,
    timeWindow: MINUTE,
    keyGenerator: (request) => loginKeys.get(request) ?? request.ip
  })
  app.post('/login', {
    // A login changes nothing, so it is safe to retry unchanged; replaying it would mean
    // keeping bearer tokens at rest. An Idempotency-Key is accepted and ignored here.
    config: { rateLimit: { max: options.rateLimits.login, timeWindow: MINUTE }, idempotency: false },
    schema: {
      tags: ['auth'],
      operationId: 'login',
      summary: 'Exchange a username and password for a bearer token',
      description: 'Rate-limited per client address and per account, `LOGIN_RATE_LIMIT` a minute each (429 with `Retry-After`). Safe to retry unchanged: an `Idempotency-Key` is ignored, since a login changes nothing.',
      body: LoginBody,
      response: { 200: Token, ...errorResponses(400, 401, 415, 429) }
    },
    handler: async (request, reply) => {
      const user = await findUserByUsername(app.db, request.body.username)
      const key = user ? `login:user:${user.id}` : await loginKey(app.db, request.body.username)
      loginKeys.set(request, key)
      enforce(await countAccountAttempt(request), reply, 'login attempts for this account')
      const valid = await verifyPassword(request.body.password, user?.passwordHash ?? (await decoyHash()))
      if (!user || !valid) throw invalidCredentials()
      const token = app.signToken(user)
      const answer: Token = { access_token: token, token_type: 'Bearer', expires_in: options.expiresInSeconds }
      return answer
    }
  })

  app.get('/me', {
    onRequest: app.authenticate,
    schema: {
      tags: ['auth'],
      operationId: 'getMe',
      summary: 'The authenticated user',
      description: 'The account the bearer token belongs to.',
      security: [{ bearerAuth: [] }],
      response: { 200: User, ...errorResponses(401) }
    },
    handler: async (request) => userShape(callerOf(request))
  })
}

export default authRoutes
