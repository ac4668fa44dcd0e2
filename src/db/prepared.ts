import type { Db } from './client.js'

/**
 * A family of queries built once per database handle and key, and prepared on the server
 * under the name `nameOf(key)`: hot reads skip rebuilding the SQL in JavaScript and
 * re-planning it in PostgreSQL on every request.
 */
export function preparedStatements<K, T>(nameOf: (key: K) => string, build: (db: Db, key: K, name: string) => T): (db: Db, key: K) => T {
  const built = new WeakMap<Db, Map<string, T>>()
  return (db, key) => {
    const name = nameOf(key)
    let byName = built.get(db)
    if (!byName) built.set(db, (byName = new Map()))
    let statement = byName.get(name)
    if (statement === undefined) byName.set(name, (statement = build(db, key, name)))
    return statement
  }
}

/** One such query. */
export function preparedStatement<T>(name: string, build: (db: Db, name: string) => T): (db: Db) => T {
  const statements = preparedStatements(() => name, (db: Db, _key: undefined, name) => build(db, name))
  return (db) => statements(db, undefined)
}
