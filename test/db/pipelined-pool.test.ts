import { createServer } from 'node:net'
import t, { type Test } from 'tap'
import pg from 'pg'
import { PipelinedPool } from '../../src/db/pipelined-pool.js'
import { isDatabaseUnavailable } from '../../src/db/errors.js'
import { createTestDatabase } from '../helpers/database.js'

const database = await createTestDatabase()
const skip = database ? false : 'the pipelined pool speaks to PostgreSQL: set TEST_DATABASE_URL'
const APP_NAME = 'pipelined-pool-test'

function openPool(t: Test, url = database!.url, connectionTimeoutMillis = 5000) {
  const pool = new PipelinedPool({ connectionString: url, max: 4, connectionTimeoutMillis, application_name: APP_NAME })
  pool.on('error', () => {})
  t.teardown(() => pool.end().catch(() => {}))
  return pool
}

async function admin<T extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: database!.url })
  await client.connect()
  try {
    return (await client.query<T>(sql, values)).rows
  } finally {
    await client.end()
  }
}

const backends = async () =>
  (await admin<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1', [APP_NAME])).map((row) => row.pid)

if (database) t.teardown(database.drop)

t.test('answers each of many concurrent queries with its own rows, on two connections', { skip }, async (t) => {
  const pool = openPool(t)
  const values = Array.from({ length: 300 }, (_, i) => i)
  const answers = await Promise.all(
    values.map((n) => (n % 2 ? pool.query({ name: 'echo', text: 'SELECT $1::int AS n' }, [n]) : pool.query('SELECT $1::int + 0 AS n', [n])))
  )
  t.same(answers.map((answer) => answer.rows[0].n), values)
  t.equal((await backends()).length, 2, 'every query travelled on the two shared connections')
})

t.test('a failing statement fails alone', { skip }, async (t) => {
  const pool = openPool(t)
  const [before, failed, after] = await Promise.allSettled([pool.query('SELECT 1 AS n'), pool.query('SELECT 1 / $1::int AS n', [0]), pool.query('SELECT 3 AS n')])
  t.match(before, { status: 'fulfilled', value: { rows: [{ n: 1 }] } })
  t.match(failed, { status: 'rejected', reason: { code: '22012' } }, 'division by zero')
  t.match(after, { status: 'fulfilled', value: { rows: [{ n: 3 }] } })
})

const timed = async (query: Promise<unknown>) => {
  const started = performance.now()
  await query
  return performance.now() - started
}

t.test('a slow statement holds up only what was already queued behind it', { skip }, async (t) => {
  const pool = openPool(t)
  await Promise.all([pool.query('SELECT 1'), pool.query('SELECT 2')])
  const slow = timed(pool.query('SELECT pg_sleep(1)'))
  const fast = await Promise.all(Array.from({ length: 4 }, (_, i) => timed(pool.query('SELECT $1::int AS n', [i]))))
  t.ok(fast.every((ms) => ms < 700), `quick queries do not wait for it: ${fast.map(Math.round).join(', ')} ms`)
  t.ok((await slow) >= 1000)
})

t.test('when every lane is stalled, queries take a connection of their own', { skip }, async (t) => {
  const pool = openPool(t)
  const slow = [timed(pool.query('SELECT pg_sleep(1)')), timed(pool.query('SELECT pg_sleep(1)'))]
  await new Promise((resolve) => setTimeout(resolve, 200))
  const fast = await timed(pool.query('SELECT 1'))
  t.ok(fast < 700, `${Math.round(fast)} ms`)
  await Promise.all(slow)
})

t.test('a transaction takes a connection of its own, invisible to the shared ones until it commits', { skip }, async (t) => {
  const pool = openPool(t)
  await pool.query('CREATE TABLE pipelined_notes (body text)')
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    await client.query("INSERT INTO pipelined_notes VALUES ('draft')")
    t.same((await pool.query('SELECT count(*)::int AS n FROM pipelined_notes')).rows, [{ n: 0 }], 'uncommitted rows are not seen')
    await client.query('ROLLBACK')
  } finally {
    client.release()
  }
  t.same((await pool.query('SELECT count(*)::int AS n FROM pipelined_notes')).rows, [{ n: 0 }])
})

t.test('a connection the server drops is replaced by the next query', { skip }, async (t) => {
  const pool = openPool(t)
  await Promise.all([pool.query('SELECT 1'), pool.query('SELECT 2')])
  const before = await backends()
  await admin('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [before])
  // Until the client has read the server's goodbye, a query may still go out on the dead
  // socket: it fails as "unavailable" (a 503 to clients), and the next one reconnects.
  let answer: pg.QueryResult | undefined
  for (let attempt = 0; attempt < 50 && !answer; attempt++) {
    answer = await pool.query('SELECT 42 AS n').catch((error: unknown) => {
      t.ok(isDatabaseUnavailable(error), `a lost connection reads as unavailable: ${String(error)}`)
      return new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 20))
    })
  }
  t.same(answer?.rows, [{ n: 42 }])
  t.notOk((await backends()).some((pid) => before.includes(pid)), 'on new connections')
})

t.test('a server that cannot be reached fails each query as unavailable, and each tries again', { skip }, async (t) => {
  const url = new URL(database?.url ?? 'postgres://localhost/none')
  url.port = '1'
  const pool = openPool(t, url.toString())
  for (const attempt of [1, 2]) {
    const error = await pool.query('SELECT 1').catch((error: unknown) => error)
    t.ok(isDatabaseUnavailable(error), `attempt ${attempt}: ${String(error)}`)
  }
})

t.test('a server that accepts connections but never answers fails queries as unavailable', async (t) => {
  const silent = createServer(() => {})
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => silent.close())
  const address = silent.address()
  const port = typeof address === 'object' && address ? address.port : 0
  const pool = openPool(t, `postgres://postgres@127.0.0.1:${port}/none`, 200)
  const error = await pool.query('SELECT 1').catch((error: unknown) => error)
  t.ok(isDatabaseUnavailable(error), String(error))
})

t.test('after end, the shared connections are closed and queries fail as unavailable', { skip }, async (t) => {
  const pool = openPool(t)
  await pool.query('SELECT 1')
  await pool.end()
  t.same(await backends(), [])
  const error = await pool.query('SELECT 1').catch((error: unknown) => error)
  t.ok(isDatabaseUnavailable(error), String(error))
})

t.test('every failed query is reported once, on a lane, on a stalled lane’s fallback and in a transaction', { skip }, async (t) => {
  const failures: unknown[] = []
  const pool = new PipelinedPool({ connectionString: database!.url, max: 4, application_name: APP_NAME }, (error) => failures.push(error))
  pool.on('error', () => {})
  t.teardown(() => pool.end().catch(() => {}))
  const code = (error: unknown) => (error instanceof Error && 'code' in error ? error.code : undefined)

  await t.rejects(pool.query('SELECT * FROM no_such_table'))
  t.same(failures.map(code), ['42P01'], 'a statement on a shared lane')

  const slow = [pool.query('SELECT pg_sleep(0.5)'), pool.query('SELECT pg_sleep(0.5)')]
  await new Promise((resolve) => setTimeout(resolve, 200))
  await t.rejects(pool.query('SELECT 1/0'))
  t.same(failures.map(code), ['42P01', '22012'], 'a statement on a pooled connection, while the lanes are stalled')
  await Promise.all(slow)

  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    await t.rejects(client.query('SELECT no_such_column'))
    await client.query('ROLLBACK')
  } finally {
    client.release()
  }
  t.same(failures.map(code), ['42P01', '22012', '42703'], 'a statement in a transaction')
  t.same(pool.figures(), { inUse: 0, idle: pool.idleCount, waiting: 0, max: 4 })
})
