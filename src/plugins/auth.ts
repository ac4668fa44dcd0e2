import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import fastifyJwt from '@fastify/jwt'
import { and, eq, sql } from 'drizzle-orm'
import { preparedStatement } from '../db/prepared.js'
import { sessions, users, type UserRow } from '../db/schema.js'
import { errorCode } from '../errors/guards.js'
import { AppError, forbidden, unauthorized } from '../errors/app-error.js'
import { UUID } from '../lib/vocabulary.js'

/** The caller, loaded from the database on every request: never a stale token claim. */
export type AuthUser = Omit<UserRow, 'passwordHash'>

/** What deciding a permission needs to know of the caller. */
export type Actor = Pick<AuthUser, 'id' | 'isAdmin'>

/** An access token's claims: the user, and the session (login) it belongs to. */
interface AccessClaims {
  sub: string
  sid: string
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: AccessClaims
    // What jwtVerify leaves on request.user: the token's claims, not a user. Use `caller`.
    user: AccessClaims
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller when known (after `identify` or `authenticate`), else null; see `callerOf`. */
    caller: AuthUser | null
    /** The session of the caller's token, when there is a caller. */
    sessionId: string | null
  }
  interface FastifyInstance {
    /** onRequest guard: a valid bearer token of an existing user (401 otherwise). */
    authenticate(request: FastifyRequest): Promise<void>
    /** onRequest guard: an authenticated admin (401 anonymous, 403 others). */
    requireAdmin(request: FastifyRequest): Promise<void>
    /** onRequest guard for public routes that show more to some callers: sets `viewer` when a token is sent (a bad one is still 401). */
    identify(request: FastifyRequest): Promise<void>
    /** An access token of `user` in session `sessionId`. */
    signAccessToken(user: Pick<UserRow, 'id'>, sessionId: string): string
  }
}

export interface AuthOptions {
  secret: string
  expiresInSeconds: number
}

async function authPlugin(app: FastifyInstance, options: AuthOptions) {
  await app.register(fastifyJwt, {
    secret: options.secret,
    sign: { algorithm: 'HS256', expiresIn: options.expiresInSeconds },
    // Pinning the algorithm is what defeats `alg: none` and key-confusion tokens.
    verify: { algorithms: ['HS256'], requiredClaims: ['exp', 'sub', 'sid'] }
  })

  app.decorateRequest('caller', null)
  app.decorateRequest('sessionId', null)
  app.decorate('signAccessToken', (user: Pick<UserRow, 'id'>, sessionId: string) => app.jwt.sign({ sub: String(user.id), sid: sessionId }))

  app.decorate('authenticate', async (request: FastifyRequest) => {
    const header = request.headers.authorization
    if (!header) throw unauthorized('Authentication credentials were not provided')
    // A token pasted without its scheme is the commonest mistake: say so, not just "invalid".
    if (!/^Bearer /i.test(header)) {
      throw new AppError('UNAUTHORIZED', 'The Authorization header must be "Bearer <token>": the "Bearer " prefix is missing', { 'WWW-Authenticate': 'Bearer error="invalid_request"' })
    }
    let claims: AccessClaims
    try {
      claims = await request.jwtVerify<AccessClaims>()
    } catch (error) {
      // The signature is checked before the expiry: an expired token was a real one, so "refresh now".
      if (errorCode(error) === 'FST_JWT_AUTHORIZATION_TOKEN_EXPIRED') throw refused('TOKEN_EXPIRED', 'The access token has expired: refresh it, or log in again')
      throw refused('TOKEN_INVALID', 'The access token is invalid')
    }
    const found = await findAuthUser(app, claims)
    if (!found) throw refused('TOKEN_INVALID', 'The token belongs to no existing user')
    if (found.sessionEnded) throw refused('SESSION_REVOKED', 'This session has ended (logged out, or the password changed): log in again')
    request.caller = found.user
    request.sessionId = claims.sid
  })

  app.decorate('identify', async (request: FastifyRequest) => {
    if (request.headers.authorization) await app.authenticate(request)
  })

  app.decorate('requireAdmin', async (request: FastifyRequest) => {
    await app.authenticate(request)
    if (!callerOf(request).isAdmin) throw forbidden('Only administrators can do this')
  })
}

/** The caller of a route guarded by `authenticate` or `requireAdmin` (401 if, by mistake, it is not). */
export function callerOf(request: FastifyRequest): AuthUser {
  if (!request.caller) throw unauthorized()
  return request.caller
}

const refused = (code: 'TOKEN_EXPIRED' | 'TOKEN_INVALID' | 'SESSION_REVOKED', message: string) =>
  new AppError(code, message, { 'WWW-Authenticate': 'Bearer error="invalid_token"' })

/** The caller and whether the token's session has ended, in the one query every authenticated request already made. */
async function findAuthUser(app: FastifyInstance, claims: AccessClaims): Promise<{ user: AuthUser; sessionEnded: boolean } | undefined> {
  const id = typeof claims.sub === 'string' && /^[1-9][0-9]{0,9}$/.test(claims.sub) ? Number(claims.sub) : undefined
  if (id === undefined || id > 2 ** 31 - 1 || typeof claims.sid !== 'string' || !UUID.test(claims.sid)) return undefined
  const [row] = await callerWithSession(app.db).execute({ id, sid: claims.sid })
  if (!row) return undefined
  const { sessionEnded, ...user } = row
  return { user, sessionEnded }
}

const callerWithSession = preparedStatement('caller_with_session', (db, name) =>
  db
    .select({
      id: users.id,
      username: users.username,
      email: users.email,
      isAdmin: users.isAdmin,
      createdAt: users.createdAt,
      sessionEnded: sql<boolean>`${sessions.revokedAt} is not null or ${sessions.id} is null`
    })
    .from(users)
    .leftJoin(sessions, and(eq(sessions.id, sql.placeholder('sid')), eq(sessions.userId, users.id)))
    .where(eq(users.id, sql.placeholder('id')))
    .prepare(name)
)

export default fp(authPlugin, { name: 'auth', fastify: '5.x', dependencies: ['db'] })
