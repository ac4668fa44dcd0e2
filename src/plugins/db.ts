import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { sql } from 'drizzle-orm'
import { openDatabase, type Database, type DatabaseOptions, type Db } from '../db/client.js'
import { migrateDatabase } from '../db/migrate.js'
import { withTimeout } from '../lib/timeout.js'

declare module 'fastify' {
  interface FastifyInstance {
    db: Db
    database: Database
    /** Resolves when the database answers a trivial query within `timeoutMs`. */
    pingDatabase(timeoutMs: number): Promise<void>
  }
}

export interface DbPluginOptions extends DatabaseOptions {
  /** A database opened (and closed) by the caller, shared by several apps in one process. */
  shared?: Database
}

async function dbPlugin(app: FastifyInstance, options: DbPluginOptions) {
  const database = options.shared ?? (await openMigrated(options))
  app.decorate('database', database)
  app.decorate('db', database.db)
  app.decorate('pingDatabase', async (timeoutMs: number) => {
    await withTimeout(database.db.execute(sql`select 1`), timeoutMs)
  })
  if (!options.shared) app.addHook('onClose', () => database.close())
}

async function openMigrated(options: DatabaseOptions): Promise<Database> {
  const database = openDatabase(options)
  try {
    await migrateDatabase(database)
  } catch (error) {
    await database.close().catch(() => {})
    throw error
  }
  return database
}

export default fp(dbPlugin, { name: 'db', fastify: '5.x' })
