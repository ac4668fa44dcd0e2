import type { TSchema } from '@sinclair/typebox'
import { notFound } from '../../errors/app-error.js'

/** OpenAPI security requirements: a bearer token, or (for public routes that show more to some) an optional one. */
export const bearer = (): Array<Record<string, string[]>> => [{ bearerAuth: [] }]
export const optionalBearer = (): Array<Record<string, string[]>> => [{ bearerAuth: [] }, {}]

/** Integer ids in paths: anything but a positive 32-bit integer names nothing (404, like an unknown id). */
export function parseIntegerId(raw: string, what: string): number {
  if (!/^[1-9][0-9]{0,9}$/.test(raw) || Number(raw) > 2 ** 31 - 1) throw notFound(what)
  return Number(raw)
}

/** A 201 answer's schema: what was created, and (documented) its URL in `Location`. */
export const created = <T extends TSchema>(schema: T) => ({
  ...schema,
  headers: { Location: { type: 'string', format: 'uri', description: 'The absolute URL of what was created' } }
})

/** The statuses a write with an upload can answer besides its success. */
export const UPLOAD_ERRORS: number[] = [400, 401, 403, 409, 413, 415, 422, 429]
