import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import { retryFailedDeletions } from '../../src/media/lifecycle.js'
import { buildTestAppWithConfig, createTestUser, type TestUser } from './app.js'
import { createTestDatabase } from './database.js'
import { startFaultProxy, type FaultProxy } from './fault-proxy.js'
import { startS3Server, type TestS3Server } from './s3.js'

interface TapLike {
  teardown(fn: () => unknown): void
}

/** Short deadlines, so that a fault that makes the service wait costs a test little time. */
export const DATABASE_TIMEOUT_MS = 1000
export const S3_TIMEOUT_MS = 500

export interface FaultyStack {
  app: FastifyInstance
  /** Between the service and PostgreSQL. */
  database: FaultProxy
  /** Between the service and the S3-protocol server. */
  store: FaultProxy
  s3: TestS3Server
  admin: TestUser
  /** A query straight to the database, past the proxy. */
  query<T extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<T[]>
  /** Lets every fault go, makes every pending deletion due, runs the retry loop, and compares. */
  audit(): Promise<Audit>
}

export interface Audit {
  /** Objects in the bucket that no row names. */
  orphans: string[]
  /** Names in rows whose object is not in the bucket. */
  losses: string[]
  /** Outbox rows left after the retry loop ran. */
  pending: string[]
}

/** Every object a row names: its image or cover, and their variants. */
export const NAMED_OBJECTS = `
  select image as name from posts where image is not null
  union all select cover from books where cover is not null
  union all select v->>'name' from posts, jsonb_array_elements(image_info->'variants') v
  union all select v->>'name' from books, jsonb_array_elements(cover_info->'variants') v`

/**
 * The service with a fault proxy in front of PostgreSQL and one in front of a real
 * S3-protocol server. PostgreSQL only: PGlite has no connection to break.
 */
export async function startFaultyStack(t: TapLike, env: Record<string, string> = {}): Promise<FaultyStack> {
  const database = (await createTestDatabase())!
  t.teardown(database.drop)
  const direct = new URL(database.url)
  const databaseProxy = await startFaultProxy({ host: direct.hostname, port: Number(direct.port || 5432) }, t)
  const proxied = new URL(database.url)
  proxied.host = `${databaseProxy.host}:${databaseProxy.port}`

  const s3 = await startS3Server(t)
  const s3Port = Number(new URL(s3.endpoint).port)
  const storeProxy = await startFaultProxy({ host: '127.0.0.1', port: s3Port }, t)

  const { app } = await buildTestAppWithConfig(t, {
    ...s3.env,
    S3_ENDPOINT: `http://${storeProxy.host}:${storeProxy.port}`,
    S3_TIMEOUT_MS: String(S3_TIMEOUT_MS),
    DATABASE_URL: proxied.toString(),
    DATABASE_TIMEOUT_MS: String(DATABASE_TIMEOUT_MS),
    ...env
  })
  const admin = await createTestUser(app, { admin: true })

  const pool = new pg.Pool({ connectionString: database.url, max: 2 })
  pool.on('error', () => {})
  t.teardown(() => pool.end())
  const query = async <T extends pg.QueryResultRow>(text: string, values: unknown[] = []) => (await pool.query<T>(text, values)).rows

  const audit = async (): Promise<Audit> => {
    databaseProxy.set({ kind: 'pass' })
    storeProxy.set({ kind: 'pass' })
    // As time would: every deletion comes due again, a few times over (a try can fail on a
    // connection the fault left broken, and is then rescheduled).
    for (let round = 0; round < 3; round++) {
      await query("update media_deletions set due_at = now() - interval '1 second'")
      await retryFailedDeletions(app.media.context(app.log))
    }
    const keys = new Set((await s3.keys()).map((key) => key.replace(/^media\//, '')).filter((name) => !name.startsWith('.')))
    const named = new Set((await query<{ name: string }>(NAMED_OBJECTS)).map((row) => row.name))
    return {
      orphans: [...keys].filter((key) => !named.has(key)),
      losses: [...named].filter((name) => !keys.has(name)),
      pending: (await query<{ name: string }>('select name from media_deletions')).map((row) => row.name)
    }
  }

  return { app, database: databaseProxy, store: storeProxy, s3, admin, query, audit }
}
