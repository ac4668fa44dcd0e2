import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { TypeGuard } from '@sinclair/typebox'
import { errorCode } from '../errors/guards.js'
import { fileFieldsOf } from './forms.js'
import { errorSpec, type ErrorCode } from '../errors/catalogue.js'
import { loggable } from '../errors/loggable.js'
import { describeError, type PublicError } from '../errors/public-error.js'
import { ErrorResponse } from '../errors/schema.js'
import { FieldErrorSchema } from '../errors/field-errors.js'

const statusText = (statusCode: number) => STATUS_CODES[statusCode] ?? 'Error'

function sendError(reply: FastifyReply, body: PublicError) {
  if (body.headers) reply.headers(body.headers)
  const answer = { statusCode: body.statusCode, code: body.code, error: statusText(body.statusCode), message: body.message }
  return reply.code(body.statusCode).send(body.errors ? { ...answer, errors: body.errors } : answer)
}

/** The app's error handler, also used for the framework's own routing errors (bad URL encoding, ...). */
export function handleError(error: Error, request: FastifyRequest, reply: FastifyReply) {
  const described = describeError(error, request.id, /^\s*multipart\/form-data/i.test(request.headers['content-type'] ?? ''))
  const body = errorCode(error) === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? { ...described, message: unsupportedTypeMessage(request) } : described
  if (body.statusCode >= 500) request.log.error({ err: loggable(error) }, 'request failed')
  else request.log.info({ code: body.code, statusCode: body.statusCode }, body.message)
  // Routing errors happen before the onRequest hooks that normally set it.
  reply.header('x-request-id', request.id)
  return sendError(reply, body)
}

/** A body of a type no parser takes: name the types this route does take. */
function unsupportedTypeMessage(request: FastifyRequest): string {
  const schema = request.routeOptions.schema?.body
  const fileFields = TypeGuard.IsObject(schema) ? fileFieldsOf(schema) : []
  const formOnly = TypeGuard.IsObject(schema) && fileFields.some((name) => schema.required?.includes(name))
  const accepted = fileFields.length === 0 ? 'application/json' : formOnly ? 'multipart/form-data' : 'multipart/form-data (to upload a file) or application/json'
  const sent = request.headers['content-type'] ? `it was sent as ${request.headers['content-type'].split(';')[0]}` : 'it was sent without a Content-Type'
  return `This route takes ${accepted}; ${sent}`
}

/**
 * The error shape written straight to a socket and the connection closed, for requests the
 * framework does not handle (unparsable, or cut for arriving too slowly).
 */
export function writeRawError(socket: Socket, code: ErrorCode, message: string) {
  const { status } = errorSpec(code)
  const body = JSON.stringify({ statusCode: status, code, error: statusText(status), message })
  if (socket.writable) socket.end(`HTTP/1.1 ${status} ${statusText(status)}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
  socket.destroySoon()
}

async function errorsPlugin(app: FastifyInstance) {
  app.addSchema(FieldErrorSchema)
  app.addSchema(ErrorResponse)
  app.setErrorHandler(handleError)
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, { statusCode: 404, code: 'NOT_FOUND', message: `Route ${request.method} ${request.url.split('?')[0]} not found` })
  )
}

export default fp(errorsPlugin, { name: 'errors', fastify: '5.x' })
