import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { UserRow } from '../../db/schema.js'
import type { IssuedRefresh, SessionOrigin } from './sessions.js'
import { openSession } from './sessions.js'
import type { Token } from './schemas.js'

export interface Lifetimes {
  accessSeconds: number
  refreshSeconds: number
}

/** Where a request comes from, as its session records it. */
export const originOf = (request: FastifyRequest): SessionOrigin => ({ userAgent: request.headers['user-agent'], address: request.ip })

/** The answer of a login, refresh or password change: an access token in the session, and its refresh token. */
export function tokenAnswer(app: FastifyInstance, user: Pick<UserRow, 'id'>, issued: IssuedRefresh, lifetimes: Lifetimes): Token {
  return {
    access_token: app.signAccessToken(user, issued.sessionId),
    token_type: 'Bearer',
    expires_in: lifetimes.accessSeconds,
    refresh_token: issued.refreshToken,
    refresh_expires_in: lifetimes.refreshSeconds
  }
}

/** A new session of `user` and its tokens: what a login answers. */
export async function logIn(app: FastifyInstance, user: Pick<UserRow, 'id'>, origin: SessionOrigin, lifetimes: Lifetimes): Promise<Token> {
  return tokenAnswer(app, user, await openSession(app.database.transaction, user.id, origin, lifetimes.refreshSeconds), lifetimes)
}
