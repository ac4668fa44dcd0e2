import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { sql } from 'drizzle-orm'
import { openDatabase, type Database } from '../../src/db/client.js'
import { migrateDatabase, migrationsFolder } from '../../src/db/migrate.js'
import { buildApp } from '../../src/app.js'
import { testConfig } from '../helpers/app.js'
import { createTestDatabase } from '../helpers/database.js'

async function open(t: Test): Promise<() => Database> {
  const dataDir = mkdtempSync(join(tmpdir(), 'migrate-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const database = await createTestDatabase()
  if (database) t.teardown(database.drop)
  return () => {
    const opened = openDatabase({ databaseUrl: database?.url, dataDir, poolMax: 2 })
    t.teardown(() => opened.close())
    return opened
  }
}

t.test('instances starting at the same moment all migrate safely', async (t) => {
  const next = await open(t)
  const first = next()
  // PGlite is owned by one process; PostgreSQL gets three racing instances.
  const instances = first.driver === 'pg' ? [first, next(), next()] : [first]
  await Promise.all(instances.map((instance) => migrateDatabase(instance)))
  await migrateDatabase(first)
  const result = await first.db.execute(sql`select count(*)::int as n from drizzle.__drizzle_migrations`)
  const rows = (result as unknown as { rows: Array<{ n: number }> }).rows
  const journal = JSON.parse(readFileSync(join(migrationsFolder, 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] }
  t.equal(rows[0]?.n, journal.entries.length, 'each migration recorded once')
  const tables = await first.db.execute(sql`select to_regclass('public.users') is not null as present`)
  t.same((tables as unknown as { rows: unknown[] }).rows, [{ present: true }])
})

t.test('an app whose database cannot be reached fails to build and leaks nothing', async (t) => {
  const config = await testConfig(t)
  await t.rejects(buildApp({ ...config, databaseUrl: 'postgres://postgres@127.0.0.1:1/none' }), { code: 'ECONNREFUSED' })
})

t.test('an embedded database folder has one owner at a time', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'lock-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const first = openDatabase({ databaseUrl: undefined, dataDir, poolMax: 1 })
  t.throws(() => openDatabase({ databaseUrl: undefined, dataDir, poolMax: 1 }), { name: 'StartupError', message: /in use by process \d+.*Stop it first/ })
  await first.close()
  const second = openDatabase({ databaseUrl: undefined, dataDir, poolMax: 1 })
  await second.close()
  writeFileSync(join(dataDir, 'pglite.pid'), '999999999')
  const third = openDatabase({ databaseUrl: undefined, dataDir, poolMax: 1 })
  t.pass('a lock left by a dead process is taken over')
  await third.close()
})
