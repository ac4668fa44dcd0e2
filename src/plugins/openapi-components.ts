import { isDeepStrictEqual } from 'node:util'

type Json = Record<string, unknown>

const isRecord = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value)
const looksLikeSchema = (node: Json) => 'type' in node || 'properties' in node || 'oneOf' in node

/**
 * Every titled schema inside `paths` becomes a named component and is referred to by `$ref`,
 * so generated clients get a `BookDetail` type instead of one anonymous copy per operation.
 * The names are the TypeBox schemas' titles: two different schemas with one title are a bug.
 */
export function nameSchemas<T extends Json>(document: T): T {
  const components = new Map<string, unknown>()
  const hoist = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(hoist)
    if (!isRecord(node)) return node
    const copy = Object.fromEntries(Object.entries(node).map(([key, value]) => [key, hoist(value)]))
    if (typeof copy.title !== 'string' || !looksLikeSchema(copy)) return copy
    const name = copy.title
    const known = components.get(name)
    if (known !== undefined && !isDeepStrictEqual(known, copy)) throw new Error(`Two different schemas are named ${name}`)
    components.set(name, copy)
    return { $ref: `#/components/schemas/${name}` }
  }
  const paths = hoist(document.paths)
  const existing = isRecord(document.components) ? document.components : {}
  const schemas = { ...(isRecord(existing.schemas) ? existing.schemas : {}), ...Object.fromEntries([...components].sort(([a], [b]) => a.localeCompare(b))) }
  return { ...document, paths, components: { ...existing, schemas } }
}

const HEADERS = {
  'X-Request-Id': {
    description: 'The id of this request, also in the server log and in a 500 error message: quote it when reporting a problem',
    schema: { type: 'string', format: 'uuid' }
  },
  'Cache-Control': {
    description: '`public, max-age=0, must-revalidate` (or the configured `max-age`) for a read made without a token, `private, no-cache` for one made with a token, `no-store` for anything else',
    schema: { type: 'string' }
  },
  ETag: {
    description: 'A strong validator of the exact body: send it back in `If-None-Match` to get 304 while nothing changed',
    schema: { type: 'string', example: '"oRXVRZEoAecXdqxdYUPn8mSQvks"' }
  },
  Vary: { description: '`Authorization`: a read made with a token may differ from one made without', schema: { type: 'string', example: 'Authorization' } }
}

const header = (name: keyof typeof HEADERS) => ({ [name]: { $ref: `#/components/headers/${name}` } })

const IF_NONE_MATCH = {
  name: 'If-None-Match',
  in: 'header',
  required: false,
  description: 'The `ETag` of the copy the client has: 304 with no body while it is current',
  schema: { type: 'string' }
}

const NOT_MODIFIED = { description: 'Not Modified: the `ETag` in `If-None-Match` is current; no body', headers: { ...header('X-Request-Id'), ...header('ETag'), ...header('Cache-Control'), ...header('Vary') } }

const mapValues = (record: unknown, map: (value: unknown, key: string) => unknown) =>
  isRecord(record) ? Object.fromEntries(Object.entries(record).map(([key, value]) => [key, map(value, key)])) : record

/**
 * The headers every answer carries, declared once as components: `X-Request-Id` and
 * `Cache-Control` on every response, and on a read's 200 its `ETag` and `Vary`, with the
 * `If-None-Match` parameter and the 304 it can answer.
 */
export function declareHeaders<T extends Json>(document: T): T {
  const withHeaders = (extra: Json) => (response: unknown) =>
    isRecord(response) ? { ...response, headers: { ...header('X-Request-Id'), ...header('Cache-Control'), ...extra, ...(isRecord(response.headers) ? response.headers : {}) } } : response
  const operationWithHeaders = (operation: unknown, method: string) => {
    if (!isRecord(operation)) return operation
    const read = method === 'get'
    const responses = mapValues(operation.responses, (response, status) => withHeaders(read && status === '200' ? { ...header('ETag'), ...header('Vary') } : {})(response))
    if (!read) return { ...operation, responses }
    const parameters = [...(Array.isArray(operation.parameters) ? operation.parameters : []), IF_NONE_MATCH]
    return { ...operation, parameters, responses: { ...(isRecord(responses) ? responses : {}), 304: NOT_MODIFIED } }
  }
  const existing = isRecord(document.components) ? document.components : {}
  return { ...document, paths: mapValues(document.paths, (item) => mapValues(item, operationWithHeaders)), components: { ...existing, headers: HEADERS } }
}
