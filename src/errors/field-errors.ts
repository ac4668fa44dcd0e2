import type { FastifySchemaValidationError } from 'fastify'
import { Type } from '@sinclair/typebox'
import { FORM_BOOLEANS } from '../lib/vocabulary.js'

/** One problem with one field: what a form shows beside that field. */
export interface FieldError {
  field: string
  code: string
  message: string
}

/** A body can fail on thousands of fields; the answer lists this many, the first ones. */
export const MAX_FIELD_ERRORS = 100

export const FieldErrorSchema = Type.Object(
  {
    field: Type.String({ description: 'Dotted path of the field: `price`, `tags.0`, `query.page_size`, `params.id`; `body` for the body as a whole', example: 'title' }),
    code: Type.String({
      description:
        'Stable word for the problem: `required`, `unknown_field`, `too_long`, `too_short`, `too_large`, `too_small`, `too_many`, `too_few`, `not_a_string`, `not_an_integer`, `not_a_number`, `not_a_boolean`, `not_an_object`, `not_an_array`, `not_allowed` (not one of the choices), `not_a_file`, `not_a_decimal`, `not_a_slug`, `invalid_format`, `invalid_email`, `invalid_username`, `invalid`',
      example: 'too_long'
    }),
    message: Type.String({ description: 'What is wrong, in words, without the field name', example: 'must be at most 200 characters' })
  },
  { $id: 'FieldError', title: 'FieldError', description: 'One problem of one field of a request' }
)

type Problem = FastifySchemaValidationError & { parentSchema?: unknown }

// Where a field was sent: body fields need no prefix.
const PREFIXES: Record<string, string> = { body: '', querystring: 'query', params: 'params', headers: 'headers' }

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null

/** The schema the value failed (the validator keeps it with `verbose`). */
const schemaOf = (problem: Problem): Record<string, unknown> => (isRecord(problem.parentSchema) ? problem.parentSchema : {})

const describedAs = (problem: Problem) => {
  const description = schemaOf(problem).description
  return typeof description === 'string' ? description : undefined
}

const article = (type: string) => (/^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`)

/** The path of the field a problem is about, dotted, under its part of the request. */
function fieldOf(problem: Problem, context: string): string {
  const segments = problem.instancePath.split('/').slice(1).map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
  const named = problem.params.missingProperty ?? problem.params.additionalProperty
  if (typeof named === 'string') segments.push(named)
  const prefix = PREFIXES[context] ?? context
  return [prefix, ...segments].filter(Boolean).join('.') || (prefix || 'body')
}

function codeAndMessage(problem: Problem, form: boolean): [string, string] {
  const { limit, type, allowedValues, format } = problem.params
  switch (problem.keyword) {
    case 'required':
      return ['required', 'is required']
    case 'additionalProperties': {
      const properties = schemaOf(problem).properties
      const fields = isRecord(properties) ? Object.keys(properties).join(', ') : ''
      return ['unknown_field', `is not a field of this request (its fields: ${fields})`]
    }
    case 'maxLength':
      return ['too_long', `must be at most ${String(limit)} characters`]
    case 'minLength':
      return ['too_short', limit === 1 ? 'must not be empty' : `must be at least ${String(limit)} characters`]
    case 'maximum':
    case 'exclusiveMaximum':
      return ['too_large', problem.message ?? 'is too large']
    case 'minimum':
    case 'exclusiveMinimum':
      return ['too_small', problem.message ?? 'is too small']
    case 'maxItems':
      return ['too_many', `must have at most ${String(limit)} items`]
    case 'minItems':
      return ['too_few', `must have at least ${String(limit)} items`]
    case 'type': {
      const expected = String(type).split(',')[0] ?? 'value'
      const message = expected === 'boolean' && form ? `must be a boolean: ${FORM_BOOLEANS.join(', ')}` : `must be ${article(expected)}`
      return [`not_${article(expected).replace(' ', '_')}`, message]
    }
    case 'enum':
      return ['not_allowed', `must be one of: ${Array.isArray(allowedValues) ? allowedValues.map(String).join(', ') : ''}`]
    case 'pattern': {
      const code = schemaOf(problem)['x-error-code']
      const description = describedAs(problem)
      return [typeof code === 'string' ? code : 'invalid_format', description ? `must be: ${description}` : 'is not in the expected format']
    }
    case 'format': {
      const description = describedAs(problem)
      return [`invalid_${String(format).replace(/[^a-z0-9]+/gi, '_')}`, description ? `must be: ${description}` : `must be a valid ${String(format)}`]
    }
    case 'upload':
      return ['not_a_file', problem.message ?? 'must be a file upload']
    default:
      return ['invalid', problem.message ?? 'is not valid']
  }
}

/**
 * Every problem the validator found, one entry each, capped. The alternatives of an
 * `anyOf`/`oneOf` each report their own failure: only the summary is kept.
 */
export function fieldErrors(problems: Problem[], context: string, form: boolean): FieldError[] {
  const unions = problems.filter((problem) => problem.keyword === 'anyOf' || problem.keyword === 'oneOf').map((problem) => `${problem.schemaPath}/`)
  const errors: FieldError[] = []
  for (const problem of problems) {
    if (errors.length === MAX_FIELD_ERRORS) break
    if (unions.some((union) => problem.schemaPath.startsWith(union))) continue
    const [code, message] = codeAndMessage(problem, form)
    errors.push({ field: fieldOf(problem, context), code, message })
  }
  return errors
}
