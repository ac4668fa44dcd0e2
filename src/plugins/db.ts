import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { sql } from 'drizzle-orm'
import { openDatabase, type Database, type DatabaseOptions, type Db } from '../db/client.js'
import { migrateDatabase } from '../db/migrate.js'

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
  app.decorate('pingDatabase', (timeoutMs: number) => withTimeout(database.db.execute(sql`select 1`), timeoutMs))
  app.addHook('onClose', () => database.close())
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).then(
    () => clearTimeout(timer),
    (error: unknown) => {
      clearTimeout(timer)
      throw error
    }
  )
}

export default fp(dbPlugin, { name: 'db', fastify: '5.x' })
