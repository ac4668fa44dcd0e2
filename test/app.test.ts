import t from 'tap'
import { buildTestApp, createTestUser } from './helpers/app.js'

t.test('cross-cutting behaviour', async (t) => {
  const logs: string[] = []
  const app = await buildTestApp(
    t,
    { CORS_ORIGINS: 'https://app.example.com', LOG_LEVEL: 'info' },
    {
      logStream: { write: (line) => void logs.push(line) },
      beforeReady: (app) => {
        app.get('/admin-only', { onRequest: app.requireAdmin }, async () => ({ ok: true }))
        app.get('/boom', async () => {
          throw new Error('select password_hash from users failed at /srv/app/src/secret.ts:12')
        })
      }
    }
  )

  await t.test('unknown routes are JSON 404s', async (t) => {
    const res = await app.inject({ url: '/api/v1/nothing?x=1' })
    t.equal(res.statusCode, 404)
    t.same(res.json(), { statusCode: 404, code: 'NOT_FOUND', error: 'Not Found', message: 'Route GET /api/v1/nothing not found' })
  })

  await t.test('the admin guard: 401 anonymous, 403 users, 200 admins', async (t) => {
    t.equal((await app.inject({ url: '/admin-only' })).statusCode, 401)
    const user = await createTestUser(app)
    const forbidden = await app.inject({ url: '/admin-only', headers: user.auth })
    t.equal(forbidden.statusCode, 403)
    t.equal(forbidden.json().code, 'FORBIDDEN')
    const admin = await createTestUser(app, { admin: true })
    t.equal((await app.inject({ url: '/admin-only', headers: admin.auth })).statusCode, 200)
  })

  await t.test('a trailing slash is accepted', async (t) => {
    t.equal((await app.inject({ url: '/healthz/' })).statusCode, 200)
    t.equal((await app.inject({ url: '/api/v1/auth/me/' })).statusCode, 401)
  })

  await t.test('server faults hide their details and carry the request id', async (t) => {
    const res = await app.inject({ url: '/boom' })
    t.equal(res.statusCode, 500)
    const body = res.json()
    t.match(body, { statusCode: 500, code: 'INTERNAL_ERROR', error: 'Internal Server Error' })
    t.equal(body.message, `The server failed to handle this request (request id ${res.headers['x-request-id']})`)
    t.notMatch(res.body, /password_hash|secret\.ts|\/srv|at /)
    t.ok(logs.some((line) => line.includes('password_hash from users failed')), 'the details go to the log')
  })

  await t.test('malformed and oversized bodies are clear 4xx answers', async (t) => {
    const url = '/api/v1/auth/login'
    const json = { 'content-type': 'application/json' }
    const cases: Array<[Record<string, string>, string, number, string]> = [
      [json, '{"username":', 400, 'INVALID_JSON'],
      [json, '', 400, 'INVALID_JSON'],
      [json, '[]', 400, 'VALIDATION_ERROR'],
      [json, '{"username":{"$ne":null},"password":"x"}', 400, 'VALIDATION_ERROR'],
      [{ 'content-type': 'text/plain' }, 'username=a', 415, 'UNSUPPORTED_MEDIA_TYPE'],
      [{ 'content-type': 'application/xml' }, '<a/>', 415, 'UNSUPPORTED_MEDIA_TYPE'],
      [json, JSON.stringify({ username: 'a', password: 'x'.repeat(1024 * 1024) }), 413, 'BODY_TOO_LARGE']
    ]
    for (const [headers, payload, status, code] of cases) {
      const res = await app.inject({ method: 'POST', url, headers, payload })
      t.equal(res.statusCode, status, `${headers['content-type']} ${payload.slice(0, 40)}`)
      t.equal(res.json().code, code)
      t.equal(Object.keys(res.json()).sort().join(), 'code,error,message,statusCode')
    }
  })

  await t.test('every answer has a request id and security headers', async (t) => {
    const res = await app.inject({ url: '/healthz' })
    t.match(res.headers['x-request-id'], /^[0-9a-f-]{36}$/)
    t.equal(res.headers['x-content-type-options'], 'nosniff')
    t.ok(res.headers['content-security-policy'])
    t.ok(res.headers['strict-transport-security'])
  })

  await t.test('CORS allows the configured origins only', async (t) => {
    const preflight = await app.inject({
      method: 'OPTIONS',
      url: '/api/v1/auth/me',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' }
    })
    t.equal(preflight.statusCode, 204)
    t.equal(preflight.headers['access-control-allow-origin'], 'https://app.example.com')
    const allowed = await app.inject({ url: '/healthz', headers: { origin: 'https://app.example.com' } })
    t.equal(allowed.headers['access-control-allow-origin'], 'https://app.example.com')
    t.match(allowed.headers['access-control-expose-headers'], /Location/)
    const other = await app.inject({ url: '/healthz', headers: { origin: 'https://evil.example.com' } })
    t.equal(other.headers['access-control-allow-origin'], undefined)
  })

  await t.test('logs carry request ids and never passwords or tokens', async (t) => {
    logs.length = 0
    await app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      headers: { authorization: 'Bearer secret-token-value' },
      payload: { username: 'nobody', password: 'hunter2-password' }
    })
    const text = logs.join('')
    t.match(text, /"reqId":"[0-9a-f-]{36}"/)
    t.notMatch(text, /hunter2-password|secret-token-value/)
  })
})

t.test('without CORS_ORIGINS no cross-origin access is granted', async (t) => {
  const app = await buildTestApp(t)
  const res = await app.inject({ url: '/healthz', headers: { origin: 'https://app.example.com' } })
  t.equal(res.headers['access-control-allow-origin'], undefined)

  await t.test('readiness follows the database', async (t) => {
    t.same((await app.inject({ url: '/readyz' })).json(), { status: 'ok' })
    await app.database.close()
    const down = await app.inject({ url: '/readyz' })
    t.equal(down.statusCode, 503)
    t.match(down.json(), { code: 'DATABASE_UNAVAILABLE', message: /database/ })
    const me = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'x', password: 'y' } })
    t.equal(me.statusCode, 503, 'a query against a database that is gone is 503, not 500')
    t.equal(me.json().code, 'DATABASE_UNAVAILABLE')
    t.equal((await app.inject({ url: '/healthz' })).statusCode, 200, 'liveness does not depend on the database')
  })
})
