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

const REQUEST_ID = {
  description: 'The id of this request, also in the server log and in a 500 error message: quote it when reporting a problem',
  schema: { type: 'string', format: 'uuid' }
}

/** Every answer carries `X-Request-Id`: declared once as a component, referred to by every response. */
export function declareRequestIds<T extends Json>(document: T): T {
  const paths = isRecord(document.paths) ? document.paths : {}
  const withHeader = (response: unknown) =>
    isRecord(response) ? { ...response, headers: { 'X-Request-Id': { $ref: '#/components/headers/X-Request-Id' }, ...(isRecord(response.headers) ? response.headers : {}) } } : response
  const mapValues = (record: unknown, map: (value: unknown) => unknown) => (isRecord(record) ? Object.fromEntries(Object.entries(record).map(([key, value]) => [key, map(value)])) : record)
  const withHeaders = (operation: unknown) => (isRecord(operation) ? { ...operation, responses: mapValues(operation.responses, withHeader) } : operation)
  const existing = isRecord(document.components) ? document.components : {}
  return { ...document, paths: mapValues(paths, (item) => mapValues(item, withHeaders)), components: { ...existing, headers: { 'X-Request-Id': REQUEST_ID } } }
}
