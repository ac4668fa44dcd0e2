import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { AppError } from '../errors/app-error.js'
import { Upload } from '../media/image.js'

/** The path of the first string in `value` that is not well-formed UTF-16, if any. */
export function findLoneSurrogate(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return value.isWellFormed() ? undefined : path
  if (typeof value !== 'object' || value === null || value instanceof Upload) return undefined
  for (const [key, item] of Object.entries(value)) {
    const found = findLoneSurrogate(item, `${path}/${key}`)
    if (found !== undefined) return found
  }
  return undefined
}

function containsNul(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.includes('\u0000')
  // An upload's file name is never stored (stored names are generated): not the client's text.
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value) || value instanceof Upload || depth > 32) return false
  return Object.values(value).some((item) => containsNul(item, depth + 1))
}

/** Text PostgreSQL could not store faithfully is refused before any handler runs. */
async function wellFormedText(app: FastifyInstance) {
  // JSON may escape half of a surrogate pair (`"\ud800"`); such a string has no UTF-8 form,
  // and PostgreSQL would store U+FFFD in its place. It is refused instead, naming the field.
  app.addHook('preValidation', (request, _reply, done) => {
    const field = findLoneSurrogate(request.body, 'body')
    if (field === undefined) done()
    else done(new AppError('VALIDATION_ERROR', `${field} must be well-formed Unicode text: it contains a lone surrogate`))
  })
  // NUL characters cannot be stored and have no business in text.
  app.addHook('preHandler', (request, _reply, done) => {
    const found = containsNul(request.body) || containsNul(request.query) || containsNul(request.params)
    done(found ? new AppError('VALIDATION_ERROR', 'Text must not contain NUL characters') : undefined)
  })
}

export default fp(wellFormedText, { name: 'well-formed-text', fastify: '5.x' })
