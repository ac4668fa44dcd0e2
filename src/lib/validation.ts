import { Ajv } from 'ajv'
import addFormats from 'ajv-formats'
import type { TSchema } from '@sinclair/typebox'
import { ANNOTATIONS, FORMATS } from './vocabulary.js'

// Outside HTTP (the command line), input is checked by the same engine and formats Fastify uses.
const ajv = addFormats.default(new Ajv({ keywords: ANNOTATIONS, formats: FORMATS }))

/** The first problem of `value` against `schema` ("password must NOT have fewer than 8 characters"), if any. */
export function findProblem(schema: TSchema, value: unknown): string | undefined {
  const check = ajv.getSchema(schema.$id ?? '') ?? ajv.compile(schema)
  if (check(value)) return undefined
  const problem = check.errors?.[0]
  return `${problem?.instancePath.slice(1) || 'input'} ${problem?.message ?? 'is invalid'}`
}
