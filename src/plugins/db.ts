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

async function dbPlugin(app: FastifyInstance, options: DatabaseOptions) {
  const database = openDatabase(options)
  try {
    await migrateDatabase(database)
  } catch (error) {
    await database.close().catch(() => {})
    throw error
  }
  app.decorate('database', database)
  app.decorate('db', database.db)
  app.decorate('pingDatabase', async (timeoutMs: number) => {
    await withTimeout(database.db.execute(sql`select 1`), timeoutMs)
  })
  app.addHook('onClose', () => database.close())
}

export default fp(dbPlugin, { name: 'db', fastify: '5.x' })
