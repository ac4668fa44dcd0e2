import { DrizzleQueryError } from 'drizzle-orm'

const field = (value: object, name: string): unknown => (name in value ? Reflect.get(value, name) : undefined)

/**
 * What goes to the log: a failed query (and, with PGlite, the driver's error too) carries
 * its parameters, a password hash say; only the database's diagnosis is kept.
 */
export function loggable(error: Error): object {
  if (!(error instanceof DrizzleQueryError)) return error
  const cause: object = typeof error.cause === 'object' && error.cause !== null ? error.cause : {}
  const [code, severity, constraint, table, column, routine] = ['code', 'severity', 'constraint', 'table', 'column', 'routine'].map((name) => field(cause, name))
  return { type: 'DatabaseError', message: String(field(cause, 'message') ?? 'query failed'), code, severity, constraint, table, column, routine, stack: error.stack?.split('\n').slice(2).join('\n') }
}
