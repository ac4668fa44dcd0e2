import { errorSpec, type ErrorCode } from './catalogue.js'

/**
 * An error a client can act on, thrown by its catalogue code: the status and the
 * default message come from the catalogue. Everything else that reaches the error
 * handler is a server fault and is hidden.
 */
export class AppError extends Error {
  readonly statusCode: number

  constructor(
    readonly code: ErrorCode,
    message: string = errorSpec(code).message,
    /** Extra response headers, like `Retry-After` or `WWW-Authenticate`. */
    readonly headers: Record<string, string> = {}
  ) {
    super(message)
    this.name = 'AppError'
    this.statusCode = errorSpec(code).status
  }
}

/** A reason the process cannot start that an operator can fix; printed on one line. */
export class StartupError extends Error {
  override name = 'StartupError'
}

export const notFound = (what = 'Resource') => new AppError('NOT_FOUND', `${what} not found`)

export const forbidden = (message?: string) => new AppError('FORBIDDEN', message)

export const unauthorized = (message?: string) => new AppError('UNAUTHORIZED', message, { 'WWW-Authenticate': 'Bearer' })
