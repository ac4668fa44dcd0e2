import t from 'tap'
import pg from 'pg'
import { createTestDatabase } from './helpers/database.js'
import { startServer } from './helpers/process.js'
import { TEST_SECRET } from './helpers/app.js'

const skip = process.env.TEST_DATABASE_URL ? false : 'connections to lose need a PostgreSQL server: set TEST_DATABASE_URL'

const json = (method: string, body: object, token?: string) => ({
  method,
  headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
  body: JSON.stringify(body)
})

async function waitFor<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const found = await probe()
    if (found !== undefined) return found
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`timed out waiting for ${what}`)
}

t.test('the server process survives PostgreSQL ending its connections, in a transaction or idle', { skip }, async (t) => {
  const database = (await createTestDatabase())!
  t.teardown(database.drop)
  const admin = new pg.Client({ connectionString: database.url })
  await admin.connect()
  t.teardown(() => admin.end())

  const server = await startServer({ DATABASE_URL: database.url, JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'info', MEDIA_RETRY_INTERVAL_MS: '50', DATABASE_TIMEOUT_MS: '5000' })
  t.teardown(() => server.stop())
  const api = (path: string, init?: RequestInit) => fetch(`${server.url}/api/v1${path}`, init)

  t.equal((await api('/auth/register', json('POST', { username: 'dora', email: 'dora@example.com', password: 'dora password' }))).status, 201)
  const { access_token: token } = (await (await api('/auth/login', json('POST', { username: 'dora', password: 'dora password' }))).json()) as { access_token: string }
  const created = await api('/books', json('POST', { title: 'Held', author: 'Someone', price: 1 }, token))
  const { id } = (await created.json()) as { id: string }

  // Another session holds the book's row, so the server's PATCH waits inside its open transaction.
  await admin.query('BEGIN')
  await admin.query('SELECT 1 FROM books WHERE id = $1 FOR UPDATE', [id])
  const patch = api(`/books/${id}`, json('PATCH', { price: 2 }, token))
  const waiting = await waitFor(async () => {
    const { rows } = await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")
    return rows[0]?.pid
  }, 'the transaction to wait for the lock')
  await admin.query('SELECT pg_terminate_backend($1)', [waiting])
  const lost = await patch
  t.equal(lost.status, 503, 'the request whose transaction lost its connection gets 503')
  t.match(await lost.json(), { code: 'DATABASE_UNAVAILABLE' })
  await admin.query('ROLLBACK')

  t.equal((await fetch(`${server.url}/healthz`)).status, 200, 'the process is still serving')
  const retried = await api(`/books/${id}`, json('PATCH', { price: 2 }, token))
  t.equal(retried.status, 200, 'and the same write works on a new connection')
  t.match(await retried.json(), { price: '2.00' })

  // Every connection the server holds (pooled, shared, idle) ends at once, as in a failover.
  await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()')
  const answers: number[] = []
  for (let attempt = 0; attempt < 5; attempt++) answers.push((await api('/books')).status)
  t.ok(answers.every((status) => status === 200 || status === 503), `only 200 or 503: ${answers.join(', ')}`)
  t.equal(answers.at(-1), 200, 'reads recover on new connections')
  t.equal((await api(`/books/${id}`, json('PATCH', { price: 3 }, token))).status, 200, 'writes recover too')
  t.equal(server.child.exitCode, null, 'the process never exited')
  t.notMatch(server.output.stdout + server.output.stderr, /shutting down after an error|uncaught/i)
})
