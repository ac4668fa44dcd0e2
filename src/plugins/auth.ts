import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import fastifyJwt from '@fastify/jwt'
import { eq } from 'drizzle-orm'
import { users, type UserRow } from '../db/schema.js'
import { AppError, forbidden, unauthorized } from '../errors/app-error.js'

/** The caller, loaded from the database on every request: never a stale token claim. */
export type AuthUser = Omit<UserRow, 'passwordHash'>

/** What deciding a permission needs to know of the caller. */
export type Actor = Pick<AuthUser, 'id' | 'isAdmin'>

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: { sub: string }
    // What jwtVerify leaves on request.user: the token's claims, not a user. Use `caller`.
    user: { sub: string }
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller when known (after `identify` or `authenticate`), else null; see `callerOf`. */
    caller: AuthUser | null
  }
  interface FastifyInstance {
    /** onRequest guard: a valid bearer token of an existing user (401 otherwise). */
    authenticate(request: FastifyRequest): Promise<void>
    /** onRequest guard: an authenticated admin (401 anonymous, 403 others). */
    requireAdmin(request: FastifyRequest): Promise<void>
    /** onRequest guard for public routes that show more to some callers: sets `viewer` when a token is sent (a bad one is still 401). */
    identify(request: FastifyRequest): Promise<void>
    signToken(user: Pick<UserRow, 'id'>): string
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
    verify: { algorithms: ['HS256'], requiredClaims: ['exp', 'sub'] }
  })

  app.decorateRequest('caller', null)
  app.decorate('signToken', (user: Pick<UserRow, 'id'>) => app.jwt.sign({ sub: String(user.id) }))

  app.decorate('authenticate', async (request: FastifyRequest) => {
    const header = request.headers.authorization
    if (!header) throw unauthorized('Authentication credentials were not provided')
    // A token pasted without its scheme is the commonest mistake: say so, not just "invalid".
    if (!/^Bearer /i.test(header)) {
      throw new AppError('UNAUTHORIZED', 'The Authorization header must be "Bearer <token>": the "Bearer " prefix is missing', { 'WWW-Authenticate': 'Bearer error="invalid_request"' })
    }
    let payload: { sub: string }
    try {
      payload = await request.jwtVerify<{ sub: string }>()
    } catch {
      throw new AppError('UNAUTHORIZED', 'The token is invalid or expired', { 'WWW-Authenticate': 'Bearer error="invalid_token"' })
    }
    const sub: unknown = payload.sub
    const user = typeof sub === 'string' && /^[1-9][0-9]{0,9}$/.test(sub) ? await findAuthUser(app, Number(sub)) : undefined
    if (!user) throw new AppError('UNAUTHORIZED', 'The token belongs to no existing user', { 'WWW-Authenticate': 'Bearer error="invalid_token"' })
    request.caller = user
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

async function findAuthUser(app: FastifyInstance, id: number): Promise<AuthUser | undefined> {
  if (id > 2 ** 31 - 1) return undefined
  const [row] = await app.db
    .select({ id: users.id, username: users.username, email: users.email, isAdmin: users.isAdmin, createdAt: users.createdAt })
    .from(users)
    .where(eq(users.id, id))
  return row
}

export default fp(authPlugin, { name: 'auth', fastify: '5.x', dependencies: ['db'] })
