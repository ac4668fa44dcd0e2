/**
 * An error a client can act on: an HTTP status and a stable machine-readable code.
 * Everything else that reaches the error handler is a server fault and is hidden.
 */
export class AppError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    /** Extra response headers, such as `Retry-After` or `WWW-Authenticate`. */
    readonly headers: Record<string, string> = {}
  ) {
    super(message)
    this.name = 'AppError'
  }
}

/** A reason the process cannot start that an operator can fix; printed as one line. */
export class StartupError extends Error {
  override name = 'StartupError'
}

export const notFound = (what = 'Resource') => new AppError(404, 'NOT_FOUND', `${what} not found`)

export const forbidden = (message = 'You do not have permission to perform this action') =>
  new AppError(403, 'FORBIDDEN', message)

export const unauthorized = (message = 'Authentication credentials were not provided or are invalid') =>
  new AppError(401, 'UNAUTHORIZED', message, { 'WWW-Authenticate': 'Bearer' })

export const conflict = (code: string, message: string) => new AppError(409, code, message)

// Connection failures, server shutdown, too many connections, and the deadlines of a
// statement (57014) or of a session left idle in a transaction (25P03).
const unavailableCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', '57P01', '57P02', '57P03', '53300', '57014', '25P03'])

/** True for errors that mean "the database is not reachable", as opposed to a bad query. */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string' && (unavailableCodes.has(code) || code.startsWith('08'))) return true
  // A lost connection, or (the last two) shutting down: the pool or the embedded database is already closed.
  if (/Connection terminated|timeout exceeded when trying to connect|timeout expired|Query read timeout|not queryable|pool after calling end|PGlite is closed/i.test(error.message)) return true
  // Drizzle wraps driver errors; look at the cause.
  return error.cause !== undefined && isDatabaseUnavailable(error.cause)
}

/** The unique constraint a PostgreSQL error violated, if that is what it is. */
export function violatedConstraint(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined
  const { code, constraint } = error as { code?: unknown; constraint?: unknown }
  if (code === '23505' && typeof constraint === 'string') return constraint
  return violatedConstraint(error.cause)
}
