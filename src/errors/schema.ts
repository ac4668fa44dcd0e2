import { Type } from '@sinclair/typebox'
import { errorCodes, errorSpec, type ErrorCode, type ResponseHeader } from './catalogue.js'
import { FieldErrorSchema, MAX_FIELD_ERRORS } from './field-errors.js'

export const ErrorResponse = Type.Object(
  {
    statusCode: Type.Integer({ example: 400 }),
    code: Type.Unsafe<ErrorCode>({ type: 'string', enum: errorCodes, description: 'Stable machine-readable error code', example: 'VALIDATION_ERROR' }),
    error: Type.String({ description: 'HTTP status text', example: 'Bad Request' }),
    message: Type.String({ description: 'Human-readable explanation; names the offending field for validation errors' }),
    errors: Type.Optional(
      Type.Array(Type.Ref(FieldErrorSchema), {
        maxItems: MAX_FIELD_ERRORS,
        description: `With \`VALIDATION_ERROR\` and \`UNKNOWN_FIELD\`: every problem of the request, one entry per field and problem (at most ${MAX_FIELD_ERRORS}, the first ones), for a form to show beside its fields. \`message\` above describes the first.`
      })
    )
  },
  { $id: 'ErrorResponse', title: 'Error' }
)

const HEADERS: Record<ResponseHeader, { type: string; description: string }> = {
  'Retry-After': { type: 'integer', description: 'Seconds to wait before retrying' },
  'WWW-Authenticate': { type: 'string', description: 'The scheme to authenticate with: `Bearer`, with `error="invalid_token"` when the token was refused (RFC 6750)' }
}

const codesOf = (status: number) => errorCodes.filter((code) => errorSpec(code).status === status)

/** The codes a status may carry, each with what it means, in a Markdown list. */
function describeStatus(status: number): string {
  return codesOf(status).map((code) => `- \`${code}\`: ${errorSpec(code).description}`).join('\n') || 'Error'
}

/** The response headers some code of a status comes with. */
function headersOf(status: number) {
  const names = new Set(codesOf(status).flatMap((code) => errorSpec(code).headers ?? []))
  return names.size === 0 ? {} : { headers: Object.fromEntries([...names].map((name) => [name, HEADERS[name]])) }
}

/**
 * Response entries for a route schema: one shared error body per status it can return,
 * with the headers its codes may carry. Every API route touches the database, so 500 and
 * 503 are always among them.
 */
export function errorResponses(...statuses: number[]) {
  return Object.fromEntries(
    [...new Set([...statuses, 500, 503])].map((status) => [status, { ...Type.Ref(ErrorResponse), description: describeStatus(status), ...headersOf(status) }])
  )
}
