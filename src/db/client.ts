import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres'
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import pg from 'pg'
import * as schema from './schema.js'

/** One typed handle whatever the driver: PostgreSQL through `pg`, or embedded PGlite. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>

export interface Database {
  db: Db
  driver: 'pg' | 'pglite'
  /** Applies the SQL migrations of `folder`; concurrent starts apply them one at a time. */
  migrate(folder: string): Promise<void>
  close(): Promise<void>
}

export interface DatabaseOptions {
  databaseUrl: string | undefined
  dataDir: string
  poolMax: number
}

export function openDatabase(options: DatabaseOptions): Database {
  const database = options.databaseUrl === undefined ? openPglite(options.dataDir) : openPg(options.databaseUrl, options.poolMax)
  // Closing twice (a failed start, then shutdown) must not throw.
  let closing: Promise<void> | undefined
  return { ...database, close: () => (closing ??= database.close()) }
}

// Any fixed number shared by every instance of this service works as the lock key.
const MIGRATION_LOCK_KEY = 727_310_411

function openPg(connectionString: string, max: number): Database {
  const pool = new pg.Pool({ connectionString, max, connectionTimeoutMillis: 5000 })
  // An idle client that loses its server must not crash the process; the next query reports it.
  pool.on('error', () => {})
  const db: Db = drizzlePg(pool, { schema })
  return {
    db,
    driver: 'pg',
    async migrate(migrationsFolder) {
      const client = await pool.connect()
      try {
        await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY])
        await migratePg(drizzlePg(client, { schema }), { migrationsFolder })
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {})
        client.release()
      }
    },
    close: () => pool.end()
  }
}

function openPglite(dataDir: string): Database {
  const folder = join(dataDir, 'pglite')
  mkdirSync(folder, { recursive: true })
  const client = new PGlite(folder)
  const db: Db = drizzlePglite(client, { schema })
  return {
    db,
    driver: 'pglite',
    // PGlite is one connection owned by this process: there is nobody to race.
    migrate: (migrationsFolder) => migratePglite(drizzlePglite(client, { schema }), { migrationsFolder }),
    close: () => client.close()
  }
}
