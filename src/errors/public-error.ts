import type { FastifyError } from 'fastify'
import { isDatabaseUnavailable, isRejectedText } from '../db/errors.js'
import { errorCode, errorStatus } from './guards.js'
import { AppError } from './app-error.js'
import type { ErrorCode } from './catalogue.js'
import { fieldErrors, type FieldError } from './field-errors.js'
import { FORM_BOOLEANS } from '../lib/vocabulary.js'

/** What a client is told of an error. */
export interface PublicError {
  statusCode: number
  code: ErrorCode
  message: string
  headers?: Record<string, string>
  /** A validation failure's problems, one per field and problem. */
  errors?: FieldError[]
}

// Fastify's own client errors, renamed to codes that do not leak the framework.
const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_BAD_URL: 'BAD_REQUEST'
}

// Other client errors of the framework and its plugins, by status; the rest are BAD_REQUEST.
const statusCodes: Record<number, ErrorCode> = {
  400: 'BAD_REQUEST',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  413: 'BODY_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED'
}

type ValidationFailure = NonNullable<FastifyError['validation']>[number]

const isValidationError = (error: Error): error is FastifyError & { validation: ValidationFailure[] } =>
  'validation' in error && Array.isArray(error.validation)

const clientStatus = (error: Error) => {
  const status = errorStatus(error)
  return status !== undefined && status >= 400 && status < 500 ? status : undefined
}

/** The description of the schema a value failed (ajv keeps it with `verbose`). */
function failedSchemaDescription(problem: ValidationFailure | undefined): string | undefined {
  const schema: unknown = problem && 'parentSchema' in problem ? problem.parentSchema : undefined
  return typeof schema === 'object' && schema !== null && 'description' in schema && typeof schema.description === 'string' ? schema.description : undefined
}

/**
 * Fastify's message names the field; a closed list of values also says which are allowed,
 * and a pattern is explained by the field's description rather than shown in regex form.
 */
function validationMessage(error: FastifyError & { validation: ValidationFailure[] }, form: boolean): string {
  const problem = error.validation[0]
  if (form && problem?.keyword === 'type' && problem.params.type === 'boolean') return `${error.validationContext}${problem.instancePath} must be a boolean: ${FORM_BOOLEANS.join(', ')}`
  const allowed = problem?.params.allowedValues
  if (Array.isArray(allowed)) return `${error.message}: ${allowed.map(String).join(', ')}`
  const description = failedSchemaDescription(problem)
  if ((problem?.keyword === 'pattern' || problem?.keyword === 'format') && description) return `${error.validationContext}${problem.instancePath} must be: ${description}`
  return error.message
}

/** The fields of the object whose schema a value failed (ajv keeps it with `verbose`). */
function knownFields(problem: ValidationFailure): string[] {
  const schema: unknown = 'parentSchema' in problem ? problem.parentSchema : undefined
  const properties: unknown = typeof schema === 'object' && schema !== null && 'properties' in schema ? schema.properties : undefined
  return typeof properties === 'object' && properties !== null ? Object.keys(properties) : []
}

/** "body/prise is not a field of this request (its fields: ...)", or undefined for any other failure. */
function unknownFieldMessage(error: FastifyError & { validation: ValidationFailure[] }): string | undefined {
  const problem = error.validation[0]
  const name: unknown = problem?.keyword === 'additionalProperties' ? problem.params.additionalProperty : undefined
  if (!problem || typeof name !== 'string') return undefined
  return `${error.validationContext}${problem.instancePath}/${name} is not a field of this request (its fields: ${knownFields(problem).join(', ')})`
}

function validationFailure(error: FastifyError & { validation: ValidationFailure[] }, form: boolean): PublicError {
  const errors = fieldErrors(error.validation, error.validationContext ?? 'body', form)
  const unknown = unknownFieldMessage(error)
  if (unknown) return { statusCode: 400, code: 'UNKNOWN_FIELD', message: unknown, errors }
  return { statusCode: 400, code: 'VALIDATION_ERROR', message: validationMessage(error, form), errors }
}

/**
 * Turns anything thrown into the one public error shape, hiding what a client must not
 * see. `form`: the request is a multipart form, whose booleans are written as words.
 */
export function describeError(error: Error, requestId: string, form = false): PublicError {
  if (error instanceof AppError) return error
  if (isValidationError(error)) return validationFailure(error, form)
  if (isRejectedText(error)) return { statusCode: 400, code: 'VALIDATION_ERROR', message: 'Text must be valid UTF-8 without NUL characters' }
  if (isDatabaseUnavailable(error)) {
    return { statusCode: 503, code: 'DATABASE_UNAVAILABLE', message: 'The database is unavailable, try again later', headers: { 'Retry-After': '5' } }
  }
  const status = clientStatus(error)
  if (status !== undefined) {
    const code = fastifyCodes[errorCode(error) ?? ''] ?? statusCodes[status] ?? 'BAD_REQUEST'
    return { statusCode: status, code, message: error.message }
  }
  return { statusCode: 500, code: 'INTERNAL_ERROR', message: `The server failed to handle this request (request id ${requestId})` }
}
