import { randomBytes } from 'node:crypto'
import pg from 'pg'

/**
 * With TEST_DATABASE_URL set, every call gets a fresh database on that server (so test
 * files can run in parallel) and a function that drops it. Without it, undefined: PGlite.
 * An unreachable server fails the test: CI must never fall back silently.
 */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> } | undefined> {
  const serverUrl = process.env.TEST_DATABASE_URL
  if (!serverUrl) return undefined
  const name = `test_${randomBytes(6).toString('hex')}`
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
