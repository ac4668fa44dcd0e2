import type { Socket } from 'node:net'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { Type } from '@sinclair/typebox'
import { DrizzleQueryError } from 'drizzle-orm'
import { AppError, isDatabaseUnavailable } from '../errors.js'

export const ErrorResponse = Type.Object(
  {
    statusCode: Type.Integer({ example: 400 }),
    code: Type.String({ description: 'Stable machine-readable error code', example: 'VALIDATION_ERROR' }),
    error: Type.String({ description: 'HTTP status text', example: 'Bad Request' }),
    message: Type.String({ description: 'Human-readable explanation; names the offending field for validation errors' })
  },
  { $id: 'ErrorResponse', title: 'Error' }
)

const statusDescriptions: Record<number, string> = {
  400: 'Invalid input (`VALIDATION_ERROR` names the field)',
  401: 'Missing, invalid or expired bearer token (`UNAUTHORIZED`), or wrong credentials',
  403: 'Authenticated but not allowed (`FORBIDDEN`)',
  404: 'No such resource (`NOT_FOUND`)',
  409: 'Conflicts with an existing resource, or `IDEMPOTENCY_KEY_IN_USE`: a request with the same `Idempotency-Key` is still running (see `Retry-After`)',
  413: 'Body or file too large',
  415: 'Unsupported content type (`UNSUPPORTED_MEDIA_TYPE`)',
  422: 'The upload is not a usable image (`INVALID_IMAGE`, `IMAGE_TOO_LARGE`, `IMAGE_TOO_COMPLEX`), or `IDEMPOTENCY_KEY_REUSED`: the `Idempotency-Key` was used for a different request',
  429: 'Too many requests (`RATE_LIMITED`), or too many uploads in progress from this client (`TOO_MANY_UPLOADS`); see `Retry-After`',
  500: 'The server failed (`INTERNAL_ERROR`); the message carries the request id',
  503: 'A dependency is unavailable (`DATABASE_UNAVAILABLE`, `STORAGE_UNAVAILABLE`), or the server is at capacity (`SERVER_BUSY`); see `Retry-After`'
}

/**
 * Response entries for a route schema: one shared error body per status it can return.
 * Every API route touches the database, so 500 and 503 are always among them.
 */
export function errorResponses(...statuses: number[]) {
  return Object.fromEntries(
    [...new Set([...statuses, 500, 503])].map((status) => [
      status,
      { ...Type.Ref(ErrorResponse), description: statusDescriptions[status] ?? 'Error' }
    ])
  )
}

// Fastify's own client errors, renamed to codes that do not leak the framework.
const fastifyCodes: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_BAD_URL: 'BAD_REQUEST'
}

const statusCodes: Record<number, string> = {
  400: 'BAD_REQUEST',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  413: 'BODY_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED'
}

const statusText: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  406: 'Not Acceptable', 408: 'Request Timeout', 409: 'Conflict', 413: 'Payload Too Large', 415: 'Unsupported Media Type',
  422: 'Unprocessable Entity', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable'
}

interface ErrorBody {
  statusCode: number
  code: string
  message: string
  headers?: Record<string, string>
}

/**
 * Fastify's message names the field; a closed list of values also says which are allowed,
 * and a pattern is explained by the field's description rather than shown as a regex.
 */
function validationMessage(error: FastifyError): string {
  const problem = error.validation?.[0] as { keyword?: string; instancePath?: string; params?: { allowedValues?: unknown[] }; parentSchema?: { description?: string } } | undefined
  const allowed = problem?.params?.allowedValues
  if (allowed) return `${error.message}: ${allowed.map(String).join(', ')}`
  const description = problem?.parentSchema?.description
  if (problem?.keyword === 'pattern' && description) return `${error.validationContext}${problem.instancePath} must be: ${description}`
  return error.message
}

/** Turns anything thrown into the one public error shape, hiding what a client must not see. */
export function describeError(error: FastifyError | Error, requestId: string): ErrorBody {
  if (error instanceof AppError) return error
  const fastifyError = error as FastifyError
  if (fastifyError.validation) {
    return { statusCode: 400, code: 'VALIDATION_ERROR', message: validationMessage(fastifyError) }
  }
  if (isRejectedText(error)) {
    return { statusCode: 400, code: 'VALIDATION_ERROR', message: 'Text must be valid UTF-8 without NUL characters' }
  }
  if (isDatabaseUnavailable(error)) {
    return { statusCode: 503, code: 'DATABASE_UNAVAILABLE', message: 'The database is unavailable, try again later', headers: { 'Retry-After': '5' } }
  }
  const status = fastifyError.statusCode
  if (status !== undefined && status >= 400 && status < 500) {
    const code = fastifyCodes[fastifyError.code] ?? statusCodes[status] ?? 'BAD_REQUEST'
    return { statusCode: status, code, message: fastifyError.message }
  }
  return { statusCode: 500, code: 'INTERNAL_ERROR', message: `The server failed to handle this request (request id ${requestId})` }
}

function sendError(reply: FastifyReply, body: ErrorBody) {
  if (body.headers) reply.headers(body.headers)
  return reply.code(body.statusCode).send({
    statusCode: body.statusCode,
    code: body.code,
    error: statusText[body.statusCode] ?? 'Error',
    message: body.message
  })
}

/** PostgreSQL refuses NUL characters and invalid encodings in text: the client's input, not a fault. */
function isRejectedText(error: unknown): boolean {
  const code = (error as { code?: unknown; cause?: { code?: unknown } }).cause?.code ?? (error as { code?: unknown }).code
  return code === '22021' || code === '22P05'
}

/**
 * What goes to the log: a failed query (and, with PGlite, the driver's error too) carries
 * its parameters, a password hash say; only the database's diagnosis is kept.
 */
/**
 * The error shape written straight to a socket and the connection closed, for requests the
 * framework does not handle (unparsable, or cut for arriving too slowly).
 */
export function writeRawError(socket: Socket, statusCode: number, code: string, message: string) {
  const status = statusText[statusCode] ?? 'Error'
  const body = JSON.stringify({ statusCode, code, error: status, message })
  if (socket.writable) socket.end(`HTTP/1.1 ${statusCode} ${status}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
  socket.destroySoon()
}

export function loggable(error: Error): object {
  if (!(error instanceof DrizzleQueryError)) return error
  const cause = (error.cause ?? {}) as Record<string, unknown>
  const { code, severity, constraint, table, column, routine } = cause
  return { type: 'DatabaseError', message: String(cause.message ?? 'query failed'), code, severity, constraint, table, column, routine, stack: error.stack?.split('\n').slice(2).join('\n') }
}

/** The app's error handler, also used for the framework's own routing errors (bad URL encoding, ...). */
export function handleError(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) {
  const body = describeError(error, request.id)
  if (body.statusCode >= 500) request.log.error({ err: loggable(error) }, 'request failed')
  else request.log.info({ code: body.code, statusCode: body.statusCode }, body.message)
  // Routing errors happen before the onRequest hooks that normally set it.
  reply.header('x-request-id', request.id)
  return sendError(reply, body)
}

async function errorsPlugin(app: FastifyInstance) {
  app.addSchema(ErrorResponse)
  app.setErrorHandler(handleError)

  // NUL characters cannot be stored and have no business in text; refused before any handler runs.
  app.addHook('preHandler', (request, _reply, done) => {
    const found = containsNul(request.body) || containsNul(request.query) || containsNul(request.params)
    done(found ? new AppError(400, 'VALIDATION_ERROR', 'Text must not contain NUL characters') : undefined)
  })

  app.setNotFoundHandler((request, reply) =>
    sendError(reply, { statusCode: 404, code: 'NOT_FOUND', message: `Route ${request.method} ${request.url.split('?')[0]} not found` })
  )
}

function containsNul(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.includes('\u0000')
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value) || depth > 32) return false
  return Object.values(value).some((item) => containsNul(item, depth + 1))
}

export default fp(errorsPlugin, { name: 'errors', fastify: '5.x' })
