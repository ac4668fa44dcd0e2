import t from 'tap'
import { buildTestApp, createTestUser } from './helpers/app.js'
import { listenLocally } from './helpers/http.js'

const preflight = (base: string, origin: string) =>
  fetch(`${base}/api/v1/books`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } })

t.test('messages that say what to do, over real HTTP', async (t) => {
  const app = await buildTestApp(t, { PUBLIC_URL: 'https://api.example.com' })
  const base = await listenLocally(app)
  const user = await createTestUser(app)

  await t.test('a preflight with CORS off names CORS_ORIGINS', async (t) => {
    const res = await preflight(base, 'https://app.example.com')
    t.equal(res.status, 403)
    const body = (await res.json()) as { code: string; message: string }
    t.equal(body.code, 'CORS_ORIGIN_NOT_ALLOWED')
    t.match(body.message, /https:\/\/app\.example\.com.*CORS_ORIGINS is not set.*Add it to CORS_ORIGINS/)
    t.equal(res.headers.get('access-control-allow-origin'), null)
    const simple = await fetch(`${base}/api/v1/books`, { headers: { origin: 'https://app.example.com' } })
    t.equal(simple.status, 200, 'a simple request is answered as always')
  })

  await t.test('415 names the types a route takes; a form sent to a JSON route says to send JSON', async (t) => {
    const post = (path: string, headers: Record<string, string>, body: string | FormData) => fetch(`${base}${path}`, { method: 'POST', headers: { ...user.auth, ...headers }, body })
    const curlData = await post('/api/v1/books', { 'content-type': 'application/x-www-form-urlencoded' }, 'title=Dune')
    t.equal(curlData.status, 415)
    t.same(await curlData.json(), {
      statusCode: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      error: 'Unsupported Media Type',
      message: 'This route takes multipart/form-data (to upload a file) or application/json; it was sent as application/x-www-form-urlencoded'
    })
    const cover = await post(`/api/v1/books/00000000-0000-4000-8000-000000000000/cover`, { 'content-type': 'text/plain' }, 'x')
    t.equal(cover.status, 404, 'the permission check comes first')
    const form = new FormData()
    form.set('username', 'someone')
    form.set('password', 'password123')
    const login = await fetch(`${base}/api/v1/auth/login`, { method: 'POST', body: form })
    t.equal(login.status, 415)
    t.match(await login.json(), { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'This route takes application/json, not multipart/form-data: send the fields as a JSON object' })
  })

  await t.test('an empty search means no search', async (t) => {
    for (const path of ['/api/v1/books?search=', '/api/v1/posts?search=']) {
      const res = await fetch(`${base}${path}`)
      t.equal(res.status, 200, path)
    }
  })

  await t.test('a token without "Bearer " says so', async (t) => {
    const res = await fetch(`${base}/api/v1/auth/me`, { headers: { authorization: user.token } })
    t.equal(res.status, 401)
    t.match(await res.json(), { code: 'UNAUTHORIZED', message: /"Bearer " prefix is missing/ })
    t.equal((await fetch(`${base}/api/v1/auth/me`, { headers: { authorization: `bearer ${user.token}` } })).status, 200, 'the scheme is case-insensitive')
  })

  await t.test('the API root links to the documentation and the collections', async (t) => {
    for (const path of ['/', '/api/v1', '/api/v1/']) {
      const res = await fetch(`${base}${path}`)
      t.equal(res.status, 200, path)
      t.same(await res.json(), {
        docs: 'https://api.example.com/docs',
        openapi: 'https://api.example.com/openapi.json',
        posts: 'https://api.example.com/api/v1/posts',
        books: 'https://api.example.com/api/v1/books',
        register: 'https://api.example.com/api/v1/auth/register',
        login: 'https://api.example.com/api/v1/auth/login',
        me: 'https://api.example.com/api/v1/auth/me'
      })
    }
  })
})

t.test('CORS: development allows local frontends; a configured list refuses others by name', async (t) => {
  const development = await listenLocally(await buildTestApp(t, { NODE_ENV: 'development' }))
  const local = await preflight(development, 'http://localhost:5173')
  t.equal(local.status, 204)
  t.equal(local.headers.get('access-control-allow-origin'), 'http://localhost:5173')
  t.equal((await preflight(development, 'http://127.0.0.1:3001')).headers.get('access-control-allow-origin'), 'http://127.0.0.1:3001')
  t.equal((await preflight(development, 'https://evil.example.com')).status, 403, 'only local origins')
  const read = await fetch(`${development}/api/v1/books`, { headers: { origin: 'http://localhost:5173' } })
  t.equal(read.headers.get('access-control-allow-origin'), 'http://localhost:5173')
  t.equal(read.headers.get('vary'), 'Origin, Authorization', 'a cache keeps the answers to each origin, and to each caller, apart')
  t.ok(read.headers.get('access-control-expose-headers')?.includes('ETag'), 'scripts may read the ETag')

  const production = await listenLocally(await buildTestApp(t, { NODE_ENV: 'production', CORS_ORIGINS: 'https://app.example.com' }))
  t.equal((await preflight(production, 'https://app.example.com')).headers.get('access-control-allow-origin'), 'https://app.example.com')
  t.equal((await preflight(production, 'http://localhost:5173')).status, 403, 'production allows only what is configured')
  const refused = (await (await preflight(production, 'https://other.example.com')).json()) as { message: string }
  t.match(refused.message, /it is not in CORS_ORIGINS/)
})
