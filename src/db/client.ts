import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres'
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import { StartupError } from '../errors/app-error.js'
import { PipelinedPool } from './pipelined-pool.js'
import * as schema from './schema.js'
import { pgTransactions, type Transact } from './transaction.js'

/** One typed handle whatever the driver: PostgreSQL through `pg`, or embedded PGlite. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>

export interface Database {
  db: Db
  driver: 'pg' | 'pglite'
  /** A write transaction: bounded in time, and never mistaken for a rollback when only its COMMIT's answer is lost. */
  transaction: Transact
  /** Applies the SQL migrations of `folder`; concurrent starts apply them one at a time. */
  migrate(folder: string): Promise<void>
  close(): Promise<void>
}

export interface DatabaseOptions {
  databaseUrl: string | undefined
  dataDir: string
  poolMax: number
  /** The longest a connection attempt, a statement or a whole transaction may take (default 5 s). */
  timeoutMs?: number
}

export function openDatabase(options: DatabaseOptions): Database {
  const database = options.databaseUrl === undefined ? openPglite(options.dataDir) : openPg(options.databaseUrl, options.poolMax, options.timeoutMs ?? 5000)
  // Closing twice (a failed start, then shutdown) must not throw.
  let closing: Promise<void> | undefined
  return { ...database, close: () => (closing ??= database.close()) }
}

// Any fixed number shared by every instance of this service works as the lock key.
const MIGRATION_LOCK_KEY = 727_310_411

/** The service's connections to PostgreSQL: pipelined lanes for single statements, a pool for transactions. */
export function openPipelinedPool(connectionString: string, max: number, timeoutMs: number): PipelinedPool {
  const pool = new PipelinedPool({
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
  })
  // An idle client that loses its server must not crash the process; the next query reports it.
  pool.on('error', () => {})
  return pool
}

function openPg(connectionString: string, max: number, timeoutMs: number): Database {
  const pool = openPipelinedPool(connectionString, max, timeoutMs)
  const db: Db = drizzlePg(pool, { schema })
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
        await migratePg(drizzlePg(client, { schema }), { migrationsFolder })
      } finally {
        await client.end().catch(() => {})
      }
    },
    close: () => pool.end()
  }
}

function openPglite(dataDir: string): Database {
  const folder = join(dataDir, 'pglite')
  mkdirSync(folder, { recursive: true })
  const releaseLock = lockFolder(folder)
  const client = new PGlite(folder)
  const db: Db = drizzlePglite(client, { schema })
  return {
    db,
    driver: 'pglite',
    // In-process: no connection to lose, so a transaction's outcome is always known.
    transaction: (work) => db.transaction(work),
    // The folder lock makes this process the only user: there is nobody to race.
    migrate: (migrationsFolder) => migratePglite(drizzlePglite(client, { schema }), { migrationsFolder }),
    close: () => client.close().finally(releaseLock)
  }
}

/**
 * PGlite files opened by two processes at once get corrupted (a running server and
 * `create-admin`, say), so the first process to open a folder owns it until it closes.
 */
function lockFolder(folder: string): () => void {
  const lock = join(folder, '..', 'pglite.pid')
  try {
    writeFileSync(lock, String(process.pid), { flag: 'wx' })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    const owner = Number(readFileSync(lock, 'utf8'))
    if (isAlive(owner)) {
      throw new StartupError(
        `The embedded database in ${folder} is in use by process ${owner} (a running server?). Stop it first, or set DATABASE_URL to use PostgreSQL. If no such process runs, delete ${lock}.`
      )
    }
    writeFileSync(lock, String(process.pid)) // left by a process that died
  }
  return () => rmSync(lock, { force: true })
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
