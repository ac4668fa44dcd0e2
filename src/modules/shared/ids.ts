import { Type } from '@sinclair/typebox'

/** A path's integer id: read as text, so that a malformed one is a 404 (see `parseIntegerId`), and documented as the integer it is. */
export const IntegerId = (description: string) =>
  Type.String({ description, documentedAs: { type: 'integer', minimum: 1, maximum: 2 ** 31 - 1, description } })

/** A path's book id: read as any text, so that a malformed one is a 404 (see `parseBookId`), and documented as the UUID it is. */
export const BookId = Type.String({
  description: 'Book id, a UUID (a malformed id is 404)',
  documentedAs: { type: 'string', format: 'uuid', description: 'Book id, a UUID (a malformed id is 404)' }
})
