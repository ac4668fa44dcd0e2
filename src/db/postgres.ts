import pg from 'pg'
import { drizzle } from 'drizzle-orm/node-postgres'
import { migrate } from 'drizzle-orm/node-postgres/migrator'
import type { Database, Db, QueryFailure } from './client.js'
import { queryFailure } from './errors.js'
import { PipelinedPool } from './pipelined-pool.js'
import { pgTransactions } from './transaction.js'

// Any fixed number shared by every instance of this service will do for the lock key.
const MIGRATION_LOCK_KEY = 727_310_411

/** The service's connections to PostgreSQL: pipelined lanes for single statements, a pool for transactions. */
export function openPipelinedPool(connectionString: string, max: number, timeoutMs: number, onQueryError?: (error: unknown) => void): PipelinedPool {
  const pool = new PipelinedPool(
    {
      connectionString,
      max,
      connectionTimeoutMillis: timeoutMs,
      // The server cancels a statement past its deadline, and ends a session left idle inside a
      // transaction (a client that vanished must not hold locks); the client gives up a second
      // later, for a server that does not answer at all.
      statement_timeout: timeoutMs,
      idle_in_transaction_session_timeout: timeoutMs,
      query_timeout: timeoutMs + 1000,
      keepAlive: true
    },
    onQueryError
  )
  // An idle client that loses its server must not crash the process; the next query reports it.
  pool.on('error', () => {})
  return pool
}

export function openPg(connectionString: string, max: number, timeoutMs: number, onQueryError?: (kind: QueryFailure) => void): Database {
  const report = onQueryError && ((error: unknown) => {
    const kind = queryFailure(error)
    if (kind) onQueryError(kind)
  })
  const pool = openPipelinedPool(connectionString, max, timeoutMs, report)
  const db: Db = drizzle(pool)
  return {
    db,
    driver: 'pg',
    transaction: pgTransactions(pool, timeoutMs),
    // Migrations may wait for another instance's and build indexes: a connection of their own, unbounded.
    async migrate(migrationsFolder) {
      const client = new pg.Client({ connectionString, connectionTimeoutMillis: timeoutMs, keepAlive: true })
      client.on('error', () => {})
      await client.connect()
      try {
        await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY])
        await migrate(drizzle(client), { migrationsFolder })
      } finally {
        await client.end().catch(() => {})
      }
    },
    close: () => pool.end(),
    poolFigures: () => pool.figures()
  }
}
