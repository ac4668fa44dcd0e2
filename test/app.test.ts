import { connect } from 'node:net'
import t from 'tap'
import { users } from '../src/db/schema.js'
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
        app.get('/failing-query', async () => {
          await app.db.insert(users).values({ username: 'x'.repeat(151), email: 'e@example.com', passwordHash: 'scrypt$SECRET-HASH' })
        })
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

  await t.test('a failed query is logged without its parameters', async (t) => {
    logs.length = 0
    const res = await app.inject({ url: '/failing-query' })
    t.equal(res.statusCode, 500)
    t.notMatch(res.body, /SECRET|insert/)
    const text = logs.join('')
    t.match(text, /value too long/, 'the database error itself is logged')
    t.notMatch(text, /SECRET-HASH/, 'the parameters are not')
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
      // A validation failure also lists its problems by field; nothing else is added.
      t.equal(Object.keys(res.json()).sort().join(), code === 'VALIDATION_ERROR' ? 'code,error,errors,message,statusCode' : 'code,error,message,statusCode')
    }
    const text = await app.inject({ method: 'POST', url, headers: { 'content-type': 'text/plain' }, payload: 'username=a' })
    t.equal(text.json().message, 'This route takes application/json; it was sent as text/plain', '415 names what the route takes')
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

t.test('hostile requests found in review get clean 4xx answers', async (t) => {
  const logs: string[] = []
  const app = await buildTestApp(t, { LOG_LEVEL: 'info' }, { logStream: { write: (line) => void logs.push(line) } })
  const admin = await createTestUser(app, { admin: true })
  const user = await createTestUser(app)

  await t.test('a write with no body at all is 400, not a crash', async (t) => {
    for (const [method, url, who] of [['POST', '/api/v1/posts', admin], ['PATCH', '/api/v1/posts/1', admin], ['POST', '/api/v1/books', user]] as const) {
      const res = await app.inject({ method, url, headers: who.auth })
      t.equal(res.statusCode, 400, `${method} ${url} ${res.body}`)
      t.equal(res.json().code, 'VALIDATION_ERROR')
    }
  })

  await t.test('NUL characters are refused wherever they come from', async (t) => {
    const json = { 'content-type': 'application/json' }
    const cases = [
      app.inject({ url: '/api/v1/posts/slug/a%00b' }),
      app.inject({ url: '/api/v1/posts?search=a%00b' }),
      app.inject({ url: '/api/v1/books?search=a%00b' }),
      app.inject({ method: 'POST', url: '/api/v1/auth/login', headers: json, payload: '{"username":"a\\u0000b","password":"whatever1"}' }),
      app.inject({ method: 'POST', url: '/api/v1/posts', headers: { ...json, ...admin.auth }, payload: '{"title":"a\\u0000b","content":"c"}' })
    ]
    for (const res of await Promise.all(cases)) {
      t.equal(res.statusCode, 400, res.body)
      t.equal(res.json().code, 'VALIDATION_ERROR')
    }
  })

  await t.test('a request Node cannot parse still gets the JSON error shape', async (t) => {
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as { port: number }
    const socket = connect(port, '127.0.0.1')
    socket.write('FOO / HTTP/1.1\r\nHost: x\r\n\r\n')
    let answer = ''
    for await (const chunk of socket) answer += chunk
    t.match(answer, /^HTTP\/1\.1 400 Bad Request/)
    t.match(answer, /"code":"BAD_REQUEST"/)
  })

  await t.test('routing errors keep the error shape and the request id; long ids are 404', async (t) => {
    const bad = await app.inject({ url: '/api/v1/posts/slug/%FF' })
    t.equal(bad.statusCode, 400)
    t.match(bad.json(), { code: 'BAD_REQUEST', error: 'Bad Request' })
    t.ok(bad.headers['x-request-id'])
    const long = await app.inject({ url: `/api/v1/posts/${'1'.repeat(201)}` })
    t.equal(long.statusCode, 404)
    t.equal(long.json().code, 'NOT_FOUND')
    t.equal((await app.inject({ url: `/api/v1/posts/${'1'.repeat(21)}` })).statusCode, 404)
    t.equal((await app.inject({ url: `/api/v1/books/${'a'.repeat(65)}` })).statusCode, 404)
  })


})
