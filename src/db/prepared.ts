import type { Db } from './client.js'

const cache = new WeakMap<Db, Map<string, unknown>>()

/**
 * A query built once per database handle and prepared on the server: hot reads skip
 * rebuilding the SQL in JavaScript and re-planning it in PostgreSQL on every request.
 */
export function prepared<T>(db: Db, name: string, build: (db: Db) => T): T {
  let queries = cache.get(db)
  if (!queries) cache.set(db, (queries = new Map()))
  if (!queries.has(name)) queries.set(name, build(db))
  return queries.get(name) as T
}
