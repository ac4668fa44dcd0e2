import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { RateLimitConfig } from '../../config.js'
import { AppError, forbidden } from '../../errors/app-error.js'
import { errorResponses } from '../../errors/schema.js'
import { callerOf } from '../../plugins/auth.js'
import { recordAnswer, sendAnswer } from '../../plugins/idempotency.js'
import { decoyHash, hashPassword, verifyPassword } from './passwords.js'
import { runPeriodically } from '../../plugins/periodic.js'
import { LoginBody, PasswordChangeBody, RefreshBody, RegisterBody, Token, User } from './schemas.js'
import { pruneSessions, renewSession, revokeSession, revokeSessionsOf, rotate } from './sessions.js'
import { userShape } from './shape.js'
import { logIn, originOf, tokenAnswer, type Lifetimes } from './tokens.js'
import { findUserByUsername, insertUser, loginKey, normalizeUsername, setPasswordHash } from './users.js'

export interface AuthRoutesOptions {
  allowRegistration: boolean
  lifetimes: Lifetimes
  rateLimits: RateLimitConfig
  /** Between deletions of ended sessions (0: never, as `npm run sessions:prune` then does it). */
  pruneIntervalMs: number
}

const invalidCredentials = () => new AppError('INVALID_CREDENTIALS')

/** The session of an authenticated request's token. */
function sessionOf(request: FastifyRequest): string {
  if (request.sessionId === null) throw new AppError('UNAUTHORIZED')
  return request.sessionId
}

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
      return logIn(app, user, originOf(request), options.lifetimes)
    }
  })

  // Token answers are never kept for an Idempotency-Key replay: that would keep bearer tokens at rest.
  const noReplay = { idempotency: false }

  app.post('/refresh', {
    config: noReplay,
    schema: {
      tags: ['auth'],
      operationId: 'refresh',
      summary: 'Trade a refresh token for new tokens',
      description:
        'Answers a new access token and a new refresh token; the one sent stops working (rotation). Sending a replaced refresh token again, more than 10 seconds after it was replaced, is taken as theft: the whole session is revoked and the answer is 401 `REFRESH_TOKEN_REUSED`. Within those seconds (two tabs refreshing at once) it gets new tokens too. Any 401 here means: log in again.',
      body: RefreshBody,
      response: { 200: Token, ...errorResponses(400, 401, 415) }
    },
    handler: async (request) => {
      const issued = await rotate(app.database.transaction, request.body.refresh_token, options.lifetimes.refreshSeconds, request.log)
      return tokenAnswer(app, { id: issued.userId }, issued, options.lifetimes)
    }
  })

  const sessionEnd = (path: string, operationId: string, summary: string, description: string, end: (userId: number, sessionId: string) => Promise<void>) =>
    app.post(path, {
      onRequest: app.authenticate,
      config: noReplay,
      schema: { tags: ['auth'], operationId, summary, description, security: [{ bearerAuth: [] }], response: { 204: Type.Null({ description: 'Ended' }), ...errorResponses(401) } },
      handler: async (request, reply) => {
        await end(callerOf(request).id, sessionOf(request))
        return reply.code(204).send(null)
      }
    })
  sessionEnd('/logout', 'logout', 'End this session', "The caller's access token and refresh token stop working at once; other sessions go on.", (_user, session) => revokeSession(app.db, session))
  sessionEnd('/logout-all', 'logoutAll', 'End every session of the caller', 'Every access and refresh token of the account stops working at once, on every device.', (user) => revokeSessionsOf(app.db, user))

  app.post('/password', {
    onRequest: app.authenticate,
    config: { ...noReplay, rateLimit: { max: options.rateLimits.login, timeWindow: MINUTE } },
    schema: {
      tags: ['auth'],
      operationId: 'changePassword',
      summary: "Change the caller's password",
      description:
        'Checks the current password (rate-limited like a login, per account: 429 with `Retry-After`), stores the new one, ends every other session of the account, and answers fresh tokens for this one (its earlier refresh token stops working). A wrong current password is 401 `INVALID_CREDENTIALS`.',
      security: [{ bearerAuth: [] }],
      body: PasswordChangeBody,
      response: { 200: Token, ...errorResponses(400, 401, 415, 429) }
    },
    handler: async (request, reply) => {
      const caller = callerOf(request)
      loginKeys.set(request, `login:user:${caller.id}`)
      enforce(await countAccountAttempt(request), reply, 'password attempts for this account')
      const user = await findUserByUsername(app.db, caller.username)
      if (!user || !(await verifyPassword(request.body.current_password, user.passwordHash))) throw invalidCredentials()
      const passwordHash = await hashPassword(request.body.new_password)
      const session = sessionOf(request)
      // One transaction: the new password never stands beside the other sessions or this one's old refresh token.
      const renewed = await app.database.transaction(async (tx) => {
        await setPasswordHash(tx, user.id, passwordHash)
        await revokeSessionsOf(tx, user.id, session)
        return renewSession(tx, session, options.lifetimes.refreshSeconds)
      })
      return tokenAnswer(app, user, renewed, options.lifetimes)
    }
  })

  if (options.pruneIntervalMs > 0) {
    runPeriodically(app, options.pruneIntervalMs, 'pruning ended sessions failed', async () => {
      const pruned = await pruneSessions(app.db)
      if (pruned > 0) app.log.info({ pruned }, 'pruned ended sessions')
    })
  }

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
