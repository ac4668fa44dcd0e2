import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'

/**
 * With TEST_DATABASE_URL set, every call gets a fresh database on that server (so test
 * files can run in parallel) and a function that drops it. Without it, undefined: PGlite.
 * An unreachable server fails the test: CI must never fall back silently.
 */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> } | undefined> {
  const serverUrl = process.env.TEST_DATABASE_URL
  return serverUrl ? createScratchDatabase(serverUrl, 'test') : undefined
}

/** A new, empty database on the server of `serverUrl`, and a function that drops it. */
export async function createScratchDatabase(serverUrl: string, prefix: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`
  await adminQuery(serverUrl, `CREATE DATABASE ${name}`)
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    drop: () => adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  }
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

/**
 * Where a test's service keeps its state: a fresh data folder and (with TEST_DATABASE_URL)
 * a fresh database, both removed after the test. `env` points a process at them.
 */
export async function testStorage(t: { teardown(fn: () => unknown): void }, prefix: string) {
  const dataDir = mkdtempSync(join(tmpdir(), `${prefix}-`))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const database = await createTestDatabase()
  if (database) t.teardown(database.drop)
  const databaseUrl = database?.url
  return { dataDir, databaseUrl, env: { DATA_DIR: dataDir, ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) } }
}
