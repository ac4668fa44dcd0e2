import t from 'tap'
import { buildTestApp } from './helpers/app.js'
import { client } from './helpers/http.js'
import * as images from './helpers/images.js'
import { startFaultyStack } from './helpers/faulty-stack.js'

const TOKEN = 'metrics-token-for-the-tests'
const scraper = { authorization: `Bearer ${TOKEN}` }

interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** The samples of a Prometheus text exposition (`name{label="value",...} number` lines). */
function parse(text: string): Sample[] {
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!match) throw new Error(`not an exposition line: ${line}`)
    const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((label) => [label[1]!, label[2]!]))
    samples.push({ name: match[1]!, labels, value: Number(match[3]) })
  }
  return samples
}

/** The sum of the samples named `name` whose labels include `labels`. */
function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const matching = samples.filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value))
  return matching.length === 0 ? NaN : matching.reduce((sum, sample) => sum + sample.value, 0)
}

const skip = process.env.TEST_DATABASE_URL ? false : 'the pool and outbox series are checked on PostgreSQL: set TEST_DATABASE_URL'

t.test('a scrape after reads, uploads, refusals and a failed deletion shows each of them, with bounded labels', { skip }, async (t) => {
  const stack = await startFaultyStack(t, { METRICS_TOKEN: TOKEN, LOGIN_RATE_LIMIT: '1' })
  const { app, admin } = stack
  const http = client(app)
  const scrape = async () => {
    const response = await app.inject({ url: '/metrics', headers: scraper })
    t.equal(response.statusCode, 200)
    t.match(response.headers['content-type'], /^text\/plain; version=0\.0\.4/)
    t.equal(response.headers['cache-control'], 'no-store')
    return { text: response.body, samples: parse(response.body) }
  }

  t.equal((await http.get('/api/v1/books')).statusCode, 200)
  t.equal((await http.get('/api/v1/books/some-raw-id-from-a-client')).statusCode, 404)
  t.equal((await http.get('/no/such/route/user-42')).statusCode, 404)
  const created = await http.form('POST', '/api/v1/books', [{ name: 'cover', file: await images.jpeg(800, 600), filename: 'c.jpg' }, { name: 'title', value: 'Measured' }, { name: 'author', value: 'A' }, { name: 'price', value: '1.00' }], admin)
  t.equal(created.statusCode, 201)
  const notAnImage = await http.form('POST', '/api/v1/books', [{ name: 'cover', file: Buffer.from('plain text, not pixels'), filename: 'c.jpg' }, { name: 'title', value: 'Refused' }, { name: 'author', value: 'A' }, { name: 'price', value: '1.00' }], admin)
  t.equal(notAnImage.statusCode, 415)
  t.equal((await http.json('POST', '/api/v1/auth/register', { username: admin.username, email: 'again@example.com', password: 'long enough password' })).statusCode, 409)
  for (let attempt = 0; attempt < 2; attempt++) await http.json('POST', '/api/v1/auth/login', { username: 'nobody', password: 'a guess' })

  // The store stops taking connections: the old cover's deletion fails and stays scheduled.
  stack.store.cutAll()
  stack.store.set({ kind: 'refuse' })
  t.equal((await http.delete(`/api/v1/books/${created.json().id}`, admin)).statusCode, 204)
  // Then it takes connections and never answers: a call that times out.
  stack.store.set({ kind: 'blackhole' })
  await t.rejects(app.media.store.check())
  stack.store.set({ kind: 'pass' })

  const { text, samples } = await scrape()
  t.equal(total(samples, 'http_requests_total', { method: 'GET', route: '/api/v1/books', status_code: '200' }), 1)
  t.equal(total(samples, 'http_requests_total', { method: 'GET', route: '/api/v1/books/:id', status_code: '404' }), 1)
  t.equal(total(samples, 'http_requests_total', { route: 'unmatched', status_code: '404' }), 1)
  t.equal(total(samples, 'http_requests_total', { method: 'POST', route: '/api/v1/books', status_code: '201' }), 1)
  t.equal(total(samples, 'http_request_duration_seconds_count', { method: 'POST', route: '/api/v1/books', status_code: '201' }), 1)
  t.ok(total(samples, 'http_request_duration_seconds_bucket', { route: '/api/v1/books', status_code: '201', le: '+Inf' }) === 1, 'the latency histogram has its buckets')
  t.notMatch(text, /some-raw-id|user-42/, 'no raw URL reaches a label')

  t.equal(total(samples, 'image_processing_duration_seconds_count', { outcome: 'ok' }), 1)
  t.equal(total(samples, 'image_refusals_total', { reason: 'unsupported_media_type' }), 1)
  t.ok(total(samples, 'image_queue_depth') === 0 && total(samples, 'image_processing_in_progress') === 0)

  t.ok(total(samples, 's3_request_duration_seconds_count', { operation: 'PutObject', outcome: 'ok' }) >= 1, 'the cover and its variants were put')
  t.ok(total(samples, 's3_request_errors_total', { operation: 'DeleteObject', error: 'network' }) >= 1, 'the refused deletion is an error of its operation')
  t.equal(total(samples, 's3_request_errors_total', { operation: 'DeleteObject', error: 'timeout' }), 1, 'a store that never answers is a timeout')
  t.equal(total(samples, 'media_deletions_pending'), 1)
  t.equal(total(samples, 'media_deletions_failed'), 1)

  t.ok(total(samples, 'db_query_errors_total', { kind: 'constraint' }) >= 1, 'the taken username was a constraint refusal')
  t.ok(total(samples, 'db_pool_connections_max') === 10 && total(samples, 'db_pool_requests_waiting') === 0)
  t.ok(total(samples, 'db_pool_connections_idle') >= 0 && total(samples, 'db_pool_connections_in_use') >= 0)
  t.equal(total(samples, 'rate_limit_refusals_total', { route: '/api/v1/auth/login' }), 1)
  t.ok(total(samples, 'process_resident_memory_bytes') > 0 && total(samples, 'nodejs_eventloop_lag_seconds') >= 0, 'process metrics are there')

  // Every label set comes from a fixed vocabulary: no id, no URL, no message.
  const allowed: Record<string, RegExp> = {
    method: /^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS|other)$/,
    route: /^(unmatched|\/[a-z0-9/:_*-]*)$/,
    status_code: /^[1-5][0-9]{2}$/,
    outcome: /^[a-z_]+$/,
    reason: /^[a-z_]+$/,
    error: /^(timeout|network|http_[1-5][0-9]{2})$/,
    operation: /^[A-Za-z]+$/,
    kind: /^(unavailable|constraint|statement)$/
  }
  const unknown = samples
    .filter((sample) => !/^(process|nodejs)_/.test(sample.name))
    .flatMap((sample) => Object.entries(sample.labels).map(([label, value]) => ({ name: sample.name, label, value })))
    .filter(({ label, value }) => label !== 'le' && !(allowed[label] ?? /^$/).test(value))
  t.same(unknown, [], 'every label takes a value of its fixed vocabulary')
  t.ok(samples.some((sample) => sample.labels.error !== undefined), 'the vocabulary check saw the store errors')

  // A database that accepts and never answers: the scrape still answers, in bounded time,
  // with the outbox figures unknown rather than stale.
  stack.database.set({ kind: 'blackhole' })
  const started = performance.now()
  const during = await scrape()
  t.ok(performance.now() - started < 4000, 'the outbox query gives up within its deadline')
  // prom-client writes `Nan`, which Prometheus parses case-insensitively.
  t.match(during.text, /^media_deletions_pending NaN$/im)
  t.match(during.text, /^media_deletions_failed NaN$/im)
  t.ok(total(during.samples, 'http_requests_total', { route: '/metrics', status_code: '200' }) >= 1)
  stack.database.set({ kind: 'pass' })
  t.end()
})

t.test('the endpoint takes only its token, and does not exist without one', async (t) => {
  const app = await buildTestApp(t, { METRICS_TOKEN: TOKEN, DATABASE_URL: '' })
  const missing = await app.inject({ url: '/metrics' })
  t.equal(missing.statusCode, 401)
  t.match(missing.json(), { code: 'UNAUTHORIZED' })
  t.equal(missing.headers['www-authenticate'], 'Bearer')
  const wrong = await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${TOKEN}x` } })
  t.equal(wrong.statusCode, 401)
  t.match(wrong.json(), { code: 'TOKEN_INVALID' })
  t.equal((await app.inject({ url: '/metrics', headers: { authorization: TOKEN } })).statusCode, 401, 'the Bearer prefix is required')

  t.equal((await app.inject({ url: '/metrics', headers: { authorization: `bearer ${TOKEN}` } })).statusCode, 200, 'the scheme is case-insensitive')
  const scraped = await app.inject({ url: '/metrics', headers: scraper })
  t.equal(scraped.statusCode, 200)
  t.notMatch(scraped.body, /^db_pool_/m, 'the embedded database has no pool to report')
  t.match(scraped.body, /^media_deletions_pending 0$/m)
  const document = (await app.inject({ url: '/openapi.json' })).json()
  t.notOk(document.paths['/metrics'], 'the operator endpoint is not part of the API document')

  const without = await buildTestApp(t, { DATABASE_URL: '' })
  const absent = await without.inject({ url: '/metrics', headers: scraper })
  t.equal(absent.statusCode, 404)
  t.match(absent.json(), { code: 'NOT_FOUND' })
})
