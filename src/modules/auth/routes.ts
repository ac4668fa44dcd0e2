import type { FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { UserRow } from '../../db/schema.js'
import { AppError, forbidden } from '../../errors.js'
import { errorResponses } from '../../plugins/errors.js'
import { recordAnswer, sendAnswer } from '../../plugins/idempotency.js'
import { decoyHash, hashPassword, verifyPassword } from './passwords.js'
import { LoginBody, RegisterBody, Token, User } from './schemas.js'
import { findUserByUsername, insertUser, normalizeUsername } from './users.js'

export interface AuthRoutesOptions {
  allowRegistration: boolean
  expiresInSeconds: number
  loginRateLimit: number
}

const toUser = (row: Omit<UserRow, 'passwordHash'>): User => ({
  id: row.id,
  username: row.username,
  email: row.email,
  is_admin: row.isAdmin,
  created_at: row.createdAt.toISOString()
})

const invalidCredentials = () =>
  new AppError(401, 'INVALID_CREDENTIALS', 'Unable to log in with the provided credentials')

const tooManyAttempts = (seconds: number) =>
  new AppError(429, 'RATE_LIMITED', `Too many login attempts for this username, retry in ${seconds} seconds`, { 'Retry-After': String(seconds) })

const authRoutes: FastifyPluginAsyncTypebox<AuthRoutesOptions> = async (app, options) => {
  app.post('/register', {
    // Validate the name as it will be stored: NFKC can lengthen a name or change its characters.
    preValidation: async (request) => {
      const body = request.body as { username?: unknown } | null
      if (body && typeof body.username === 'string') body.username = normalizeUsername(body.username)
    },
    schema: {
      tags: ['auth'],
      summary: 'Create a user account',
      description: 'Answers 403 when the server runs with `ALLOW_REGISTRATION=false`.',
      body: RegisterBody,
      response: { 201: User, ...errorResponses(400, 403, 409, 415) }
    },
    handler: async (request, reply) => {
      if (!options.allowRegistration) throw forbidden('Registration is closed on this server')
      const passwordHash = await hashPassword(request.body.password)
      const answer = await app.database.transaction(async (tx) => {
        const row = await insertUser(tx, { ...request.body, passwordHash })
        return recordAnswer(tx, request, reply, { statusCode: 201, body: toUser(row) })
      })
      return sendAnswer(reply, answer)
    }
  })

  // Two limits: per client address (before the body is read) and per username (after),
  // so neither one address nor a botnet can guess one account's password quickly.
  const countUsernameAttempt = app.createRateLimit({
    max: options.loginRateLimit,
    timeWindow: 60_000,
    keyGenerator: (request) => `login:${normalizeUsername((request.body as LoginBody).username).toLowerCase()}`
  })
  const limitPerUsername = async (request: FastifyRequest) => {
    const attempt = await countUsernameAttempt(request)
    if (!attempt.isAllowed && attempt.isExceeded) throw tooManyAttempts(attempt.ttlInSeconds)
  }

  app.post('/login', {
    // A login changes nothing, so it is safe to retry as it is; replaying it would mean
    // keeping bearer tokens at rest. An Idempotency-Key is accepted and ignored here.
    config: { rateLimit: { max: options.loginRateLimit, timeWindow: 60_000 }, idempotency: false },
    preHandler: limitPerUsername,
    schema: {
      tags: ['auth'],
      summary: 'Exchange a username and password for a bearer token',
      description: 'Rate-limited per client address and per username (429 with `Retry-After`). Safe to retry as it is: an `Idempotency-Key` is ignored, since a login changes nothing.',
      body: LoginBody,
      response: { 200: Token, ...errorResponses(400, 401, 415, 429) }
    },
    handler: async (request) => {
      const user = await findUserByUsername(app.db, request.body.username)
      const valid = await verifyPassword(request.body.password, user?.passwordHash ?? (await decoyHash()))
      if (!user || !valid) throw invalidCredentials()
      const token = app.signToken(user)
      return { access_token: token, token_type: 'Bearer' as const, expires_in: options.expiresInSeconds }
    }
  })

  app.get('/me', {
    onRequest: app.authenticate,
    schema: {
      tags: ['auth'],
      summary: 'The authenticated user',
      security: [{ bearerAuth: [] }],
      response: { 200: User, ...errorResponses(401) }
    },
    handler: async (request) => toUser(request.user)
  })
}

export default authRoutes
