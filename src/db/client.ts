import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import { openPglite } from './pglite.js'
import { openPg } from './postgres.js'
import type { Transact } from './transaction.js'

/** One typed handle whatever the driver: PostgreSQL through `pg`, or embedded PGlite. */
export type Db = PgDatabase<PgQueryResultHKT>

export interface Database {
  db: Db
  driver: 'pg' | 'pglite'
  /** A write transaction: bounded in time, and never mistaken for a rollback when only its COMMIT's answer is lost. */
  transaction: Transact
  /** Applies the SQL migrations of `folder`; concurrent starts apply them one at a time. */
  migrate(folder: string): Promise<void>
  close(): Promise<void>
  /** How busy the connections are (PostgreSQL only: the embedded database has no pool). */
  poolFigures?: () => PoolFigures
}

export interface PoolFigures {
  /** Connections a transaction holds, plus the pipelined connections with a statement in flight. */
  inUse: number
  idle: number
  /** Transactions waiting for a connection. */
  waiting: number
  max: number
}

/** Which way a statement failed: the database is gone or too slow, a constraint refused it, or it refused the statement. */
export type QueryFailure = 'unavailable' | 'constraint' | 'statement'

export interface DatabaseOptions {
  databaseUrl: string | undefined
  dataDir: string
  poolMax: number
  /** The longest a connection attempt, a statement or a whole transaction may take (default 5 s). */
  timeoutMs?: number
  /** Told of every failed statement (PostgreSQL only). */
  onQueryError?: (kind: QueryFailure) => void
}

export function openDatabase(options: DatabaseOptions): Database {
  const database = options.databaseUrl === undefined ? openPglite(options.dataDir) : openPg(options.databaseUrl, options.poolMax, options.timeoutMs ?? 5000, options.onQueryError)
  // Closing twice (a failed start, then shutdown) must not throw.
  let closing: Promise<void> | undefined
  return { ...database, close: () => (closing ??= database.close()) }
}
