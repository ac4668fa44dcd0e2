import t, { type Test } from 'tap'
import { buildTestApp, createTestUser, type TestUser } from '../helpers/app.js'
import { listenLocally } from '../helpers/http.js'
import * as images from '../helpers/images.js'

t.test('conditional GETs and cache rules, over real HTTP', async (t) => {
  const app = await buildTestApp(t)
  const base = await listenLocally(app)
  const admin = await createTestUser(app, { admin: true })
  const user = await createTestUser(app)
  const send = (method: string, path: string, who: TestUser, body: object | FormData) =>
    fetch(`${base}${path}`, {
      method,
      headers: { ...who.auth, ...(body instanceof FormData ? {} : { 'content-type': 'application/json' }) },
      body: body instanceof FormData ? body : JSON.stringify(body)
    })
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${base}${path}`, { headers })

  const created = async (answer: Promise<Response>) => (await (await answer).json()) as { id: string | number }
  const post = await created(send('POST', '/api/v1/posts', admin, { title: 'Cached', content: 'Text', is_published: true }))
  const draft = await created(send('POST', '/api/v1/posts', admin, { title: 'Draft', content: 'Text' }))
  const book = await created(send('POST', '/api/v1/books', user, { title: 'Dune', author: 'Frank Herbert', price: '9.00' }))

  /** The ETag of `path` now, after checking that it revalidates to 304 with no body. */
  async function currentTag(t: Test, path: string): Promise<string> {
    const first = await get(path)
    t.equal(first.status, 200, path)
    const etag = first.headers.get('etag')
    t.match(etag, /^"[A-Za-z0-9_-]{27}"$/, `${path}: a strong ETag`)
    const again = await get(path, { 'if-none-match': etag! })
    t.equal(again.status, 304, `${path}: the same ETag is 304`)
    t.equal(await again.text(), '', `${path}: 304 has no body`)
    t.equal(again.headers.get('etag'), etag, `${path}: 304 repeats the ETag`)
    t.equal((await get(path, { 'if-none-match': `"other", W/${etag!}` })).status, 304, `${path}: a list with the weak form matches`)
    t.equal((await get(path, { 'if-none-match': '"other"' })).status, 200, `${path}: another ETag is 200`)
    t.equal((await fetch(`${base}${path}`, { method: 'HEAD' })).headers.get('etag'), etag, `${path}: HEAD gives the same ETag`)
    return etag!
  }

  async function changesWith(t: Test, paths: string[], change: () => Promise<Response>, what: string) {
    const before = await Promise.all(paths.map((path) => currentTag(t, path)))
    const answer = await change()
    t.ok(answer.ok, `${what}: ${answer.status}`)
    for (const [i, path] of paths.entries()) {
      const after = await get(path, { 'if-none-match': before[i]! })
      t.equal(after.status, 200, `${what} changes ${path}`)
      t.not(after.headers.get('etag'), before[i], `${what}: a new ETag for ${path}`)
    }
  }

  await t.test('a list, a post, a book and its reviews answer 304 until they change', async (t) => {
    const bookPaths = [`/api/v1/books/${book.id}`, `/api/v1/books/${book.id}/reviews`, '/api/v1/books']
    await changesWith(t, ['/api/v1/posts', `/api/v1/posts/${post.id}`], () => send('PATCH', `/api/v1/posts/${post.id}`, admin, { title: 'Cached, edited' }), 'an edit')
    await changesWith(t, ['/api/v1/posts'], () => send('PATCH', `/api/v1/posts/${draft.id}`, admin, { is_published: true }), 'a publish toggle')
    await changesWith(t, bookPaths.slice(0, 2), () => send('POST', `/api/v1/books/${book.id}/reviews`, user, { review: 'Great' }), 'a new review')
    const form = new FormData()
    form.set('cover', new Blob([await images.jpeg()], { type: 'image/jpeg' }), 'cover.jpg')
    await changesWith(t, [bookPaths[0]!, bookPaths[2]!], () => send('PUT', `/api/v1/books/${book.id}/cover`, user, form), 'a cover change')
  })

  await t.test('public reads are public; a read with a token is private; nothing else is stored', async (t) => {
    t.equal((await send('POST', '/api/v1/posts', admin, { title: 'Another draft', content: 'Text' })).status, 201)
    const anonymous = await get('/api/v1/posts')
    t.equal(anonymous.headers.get('cache-control'), 'public, max-age=0, must-revalidate')
    t.equal(anonymous.headers.get('vary'), 'Authorization')
    const drafts = await get('/api/v1/posts', admin.auth)
    t.equal(drafts.headers.get('cache-control'), 'private, no-cache', "an admin's list, which shows drafts, is private")
    t.equal(drafts.headers.get('vary'), 'Authorization')
    t.not(drafts.headers.get('etag'), anonymous.headers.get('etag'), 'the admin sees another list')
    const me = await get('/api/v1/auth/me', user.auth)
    t.equal(me.headers.get('cache-control'), 'private, no-cache')
    t.equal(me.headers.get('vary'), 'Authorization')
    for (const answer of [await get('/api/v1/posts/999999'), await send('POST', '/api/v1/books', user, { title: 'X', author: 'Y', price: '1.00' }), await get('/api/v1/auth/me')]) {
      t.equal(answer.headers.get('cache-control'), 'no-store', `${answer.status}: no-store`)
      t.equal(answer.headers.get('etag'), null, `${answer.status}: no ETag`)
    }
  })

  await t.test('HTTP_CACHE_MAX_AGE lets a CDN serve a public read for a while', async (t) => {
    const cached = await buildTestApp(t, { HTTP_CACHE_MAX_AGE: '30' })
    const answer = await cached.inject({ url: '/api/v1/posts' })
    t.equal(answer.headers['cache-control'], 'public, max-age=30, stale-while-revalidate=30')
  })
})
