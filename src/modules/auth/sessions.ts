import { createHash, randomBytes } from 'node:crypto'
import { and, eq, inArray, isNull, lt, ne, or, sql } from 'drizzle-orm'
import type { Db } from '../../db/client.js'
import type { Transact } from '../../db/transaction.js'
import { refreshTokens, sessions } from '../../db/schema.js'
import { AppError } from '../../errors/app-error.js'

/**
 * Two tabs of one browser may refresh with the same token at once. A token replaced this
 * recently gets another successor instead of counting as stolen: the tabs both go on, and
 * a thief would have to use a stolen token within these seconds of its owner.
 */
export const REUSE_GRACE_SECONDS = 10

// Revoked and expired sessions stay this long, so the reuse of one of their tokens is still told apart.
const KEEP_ENDED_SECONDS = 24 * 3600
const PRUNE_BATCH = 1000

/** Where a session was opened from, as a user would recognize it in a list of sessions. */
export interface SessionOrigin {
  userAgent: string | undefined
  address: string
}

export interface IssuedRefresh {
  sessionId: string
  refreshToken: string
}

/** 256 random bits, URL-safe; only its hash is stored. */
const newToken = () => randomBytes(32).toString('base64url')
const hashOf = (token: string) => createHash('sha256').update(token).digest('base64url')

const expiryFrom = (seconds: number) => sql`now() + make_interval(secs => ${seconds})`

async function addToken(tx: Db, sessionId: string): Promise<string> {
  const token = newToken()
  await tx.insert(refreshTokens).values({ hash: hashOf(token), sessionId })
  return token
}

/** A new session of `userId`, with its first refresh token. */
export async function openSession(transaction: Transact, userId: number, origin: SessionOrigin, lifetimeSeconds: number): Promise<IssuedRefresh> {
  return transaction(async (tx) => {
    const [session] = await tx
      .insert(sessions)
      .values({ userId, userAgent: origin.userAgent?.slice(0, 512), address: origin.address.slice(0, 64), expiresAt: expiryFrom(lifetimeSeconds) })
      .returning({ id: sessions.id })
    return { sessionId: session!.id, refreshToken: await addToken(tx, session!.id) }
  })
}

const refreshRefused = (message: string) => new AppError('TOKEN_INVALID', message, { 'WWW-Authenticate': 'Bearer error="invalid_token"' })

/** What a refresh found wrong, for the log: a reuse is a warning. */
export interface RefreshLog {
  warn(details: object, message: string): void
}

type Rotation = { kind: 'issued'; issued: IssuedRefresh & { userId: number } } | { kind: 'reused'; found: { sessionId: string; userId: number } }

/**
 * Spends `token` for a successor in the same session and moves the session's expiry on.
 * A token replaced more than the grace ago is a stolen one being replayed (or its owner's
 * copy after a thief used it): the whole session is revoked, and 401 `REFRESH_TOKEN_REUSED`.
 */
export async function rotate(transaction: Transact, token: string, lifetimeSeconds: number, log: RefreshLog): Promise<IssuedRefresh & { userId: number }> {
  const outcome = await transaction(async (tx): Promise<Rotation> => {
    // Locked: two refreshes of one token take turns, and the second sees what the first did.
    const [found] = await tx
      .select({
        sessionId: refreshTokens.sessionId,
        userId: sessions.userId,
        replacedAgo: sql<number | null>`extract(epoch from now() - ${refreshTokens.replacedAt})::float8`,
        revoked: sql<boolean>`${sessions.revokedAt} is not null`,
        expired: sql<boolean>`${sessions.expiresAt} <= now()`
      })
      .from(refreshTokens)
      .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
      .where(eq(refreshTokens.hash, hashOf(token)))
      .for('update')
    if (!found) throw refreshRefused('The refresh token is not known: log in again')
    if (found.revoked) throw new AppError('SESSION_REVOKED', 'This session has ended: log in again', { 'WWW-Authenticate': 'Bearer error="invalid_token"' })
    if (found.expired) throw refreshRefused('The refresh token has expired: log in again')
    if (found.replacedAgo !== null && found.replacedAgo > REUSE_GRACE_SECONDS) {
      await tx.update(sessions).set({ revokedAt: new Date() }).where(eq(sessions.id, found.sessionId))
      return { kind: 'reused', found }
    }
    if (found.replacedAgo === null) await tx.update(refreshTokens).set({ replacedAt: new Date() }).where(eq(refreshTokens.hash, hashOf(token)))
    await tx.update(sessions).set({ lastUsedAt: new Date(), expiresAt: expiryFrom(lifetimeSeconds) }).where(eq(sessions.id, found.sessionId))
    return { kind: 'issued', issued: { sessionId: found.sessionId, userId: found.userId, refreshToken: await addToken(tx, found.sessionId) } }
  })
  if (outcome.kind === 'issued') return outcome.issued
  // The revocation has committed before the refusal is answered.
  log.warn({ sessionId: outcome.found.sessionId, userId: outcome.found.userId }, 'a replaced refresh token was used again: its session is revoked')
  throw new AppError('REFRESH_TOKEN_REUSED', 'This refresh token was already used: the session is ended for safety, log in again', { 'WWW-Authenticate': 'Bearer error="invalid_token"' })
}

/** Ends one session: its access tokens stop working at once, its refresh tokens too. */
export async function revokeSession(db: Db, sessionId: string): Promise<void> {
  await db.update(sessions).set({ revokedAt: new Date() }).where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt)))
}

/** Ends every session of a user, or every one but `except`. */
export async function revokeSessionsOf(db: Db, userId: number, except?: string): Promise<void> {
  await db
    .update(sessions)
    .set({ revokedAt: new Date() })
    .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), except === undefined ? undefined : ne(sessions.id, except)))
}

/** A fresh refresh token for a session that goes on (after a password change): its earlier ones stop working. */
export async function renewSession(tx: Db, sessionId: string, lifetimeSeconds: number): Promise<IssuedRefresh> {
  await tx.delete(refreshTokens).where(eq(refreshTokens.sessionId, sessionId))
  await tx.update(sessions).set({ lastUsedAt: new Date(), expiresAt: expiryFrom(lifetimeSeconds) }).where(eq(sessions.id, sessionId))
  return { sessionId, refreshToken: await addToken(tx, sessionId) }
}

/**
 * Deletes sessions that ended (revoked or expired) more than a day ago, in batches.
 * Every instance may run it at once: each takes rows the others have not locked.
 */
export async function pruneSessions(db: Db): Promise<number> {
  let pruned = 0
  for (;;) {
    const ended = or(lt(sessions.revokedAt, sql`now() - make_interval(secs => ${KEEP_ENDED_SECONDS})`), lt(sessions.expiresAt, sql`now() - make_interval(secs => ${KEEP_ENDED_SECONDS})`))
    const batch = db.select({ id: sessions.id }).from(sessions).where(ended).limit(PRUNE_BATCH).for('update', { skipLocked: true })
    const deleted = await db.delete(sessions).where(inArray(sessions.id, batch)).returning({ id: sessions.id })
    pruned += deleted.length
    if (deleted.length < PRUNE_BATCH) return pruned
  }
}
