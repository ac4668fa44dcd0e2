import { Type } from '@sinclair/typebox'
import { errorCodes, errorSpec, type ErrorCode } from './catalogue.js'

export const ErrorResponse = Type.Object(
  {
    statusCode: Type.Integer({ example: 400 }),
    code: Type.Unsafe<ErrorCode>({ type: 'string', enum: errorCodes, description: 'Stable machine-readable error code', example: 'VALIDATION_ERROR' }),
    error: Type.String({ description: 'HTTP status text', example: 'Bad Request' }),
    message: Type.String({ description: 'Human-readable explanation; names the offending field for validation errors' })
  },
  { $id: 'ErrorResponse', title: 'Error' }
)

/** The codes a status may carry, each with what it means, in a Markdown list. */
function describeStatus(status: number): string {
  const codes = errorCodes.filter((code) => errorSpec(code).status === status)
  return codes.map((code) => `- \`${code}\`: ${errorSpec(code).description}`).join('\n') || 'Error'
}

/**
 * Response entries for a route schema: one shared error body per status it can return.
 * Every API route touches the database, so 500 and 503 are always among them.
 */
export function errorResponses(...statuses: number[]) {
  return Object.fromEntries([...new Set([...statuses, 500, 503])].map((status) => [status, { ...Type.Ref(ErrorResponse), description: describeStatus(status) }]))
}
