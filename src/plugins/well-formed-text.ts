import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { AppError } from '../errors.js'

/** The path of the first string in `value` that is not well-formed UTF-16, if any. */
export function findLoneSurrogate(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return value.isWellFormed() ? undefined : path
  if (typeof value !== 'object' || value === null) return undefined
  for (const [key, item] of Object.entries(value)) {
    const found = findLoneSurrogate(item, `${path}/${key}`)
    if (found !== undefined) return found
  }
  return undefined
}

/**
 * JSON may escape half of a surrogate pair (`"\ud800"`); such a string has no UTF-8 form,
 * and PostgreSQL would store U+FFFD in its place. It is refused instead, naming the field.
 */
async function wellFormedText(app: FastifyInstance) {
  app.addHook('preValidation', (request, _reply, done) => {
    const field = findLoneSurrogate(request.body, 'body')
    if (field === undefined) done()
    else done(new AppError(400, 'VALIDATION_ERROR', `${field} must be well-formed Unicode text: it contains a lone surrogate`))
  })
}

export default fp(wellFormedText, { name: 'well-formed-text', fastify: '5.x' })
