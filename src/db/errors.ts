import { errorCode } from '../errors/guards.js'
import type { QueryFailure } from './client.js'

/** What PostgreSQL's (or a socket's) errors mean to the service, read from their codes. */

const causeOf = (error: unknown) => (error instanceof Error ? error.cause : undefined)

// Connection failures, server shutdown, too many connections, and the deadlines of a
// statement (57014) or of a session left idle in a transaction (25P03).
const unavailableCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', '57P01', '57P02', '57P03', '53300', '57014', '25P03'])

/** True for errors that mean "the database is not reachable", not "the query is wrong". */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false
  const code = errorCode(error)
  if (code !== undefined && (unavailableCodes.has(code) || code.startsWith('08'))) return true
  // A lost connection, or (the last two) shutting down: the pool or the embedded database is already closed.
  if (/Connection terminated|timeout exceeded when trying to connect|timeout expired|Query read timeout|not queryable|pool after calling end|PGlite is closed/i.test(error.message)) return true
  // Drizzle wraps driver errors; look at the cause.
  return error.cause !== undefined && isDatabaseUnavailable(error.cause)
}

/** The unique constraint a PostgreSQL error violated, if that is what it is. */
export function violatedConstraint(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined
  if (errorCode(error) === '23505' && 'constraint' in error && typeof error.constraint === 'string') return error.constraint
  return violatedConstraint(error.cause)
}

/** PostgreSQL refuses NUL characters and invalid encodings in text: the client's input, not a fault. */
export function isRejectedText(error: unknown): boolean {
  const code = errorCode(causeOf(error)) ?? errorCode(error)
  return code === '22021' || code === '22P05'
}

const SQLSTATE = /^[0-9A-Z]{5}$/

/** How a query failed, for the metrics; undefined for an error that is not the database's. */
export function queryFailure(error: unknown): QueryFailure | undefined {
  if (isDatabaseUnavailable(error)) return 'unavailable'
  const code = errorCode(error)
  if (code !== undefined && SQLSTATE.test(code)) return code.startsWith('23') ? 'constraint' : 'statement'
  return causeOf(error) === undefined ? undefined : queryFailure(causeOf(error))
}
