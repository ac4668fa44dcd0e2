import t from 'tap'
import { eq } from 'drizzle-orm'
import { idempotencyKeys } from '../../src/db/schema.js'
import { pruneIdempotencyKeys } from '../../src/plugins/idempotency.js'
import { buildTestApp, createTestUser } from '../helpers/app.js'
import { client } from '../helpers/http.js'
import * as images from '../helpers/images.js'
import { multipart } from '../helpers/multipart.js'
import { appWithStore } from '../helpers/stores.js'

const withKey = (key: string, auth: Record<string, string> = {}) => ({ ...auth, 'idempotency-key': key })

t.test('a repeat with the same key answers the stored result without doing the work again', async (t) => {
  const app = await buildTestApp(t)
  const alice = await createTestUser(app)
  const payload = { title: 'Once', author: 'A', price: '1.00' }
  const send = (body = payload, key = 'k-1') => app.inject({ method: 'POST', url: '/api/v1/books', payload: body, headers: withKey(key, alice.auth) })

  const first = await send()
  t.equal(first.statusCode, 201)
  t.notOk(first.headers['idempotent-replayed'])
  const again = await send()
  t.equal(again.statusCode, 201)
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.equal(again.headers.location, first.headers.location)
  t.same(again.json(), first.json(), 'the very same answer')
  t.equal((await app.inject({ url: '/api/v1/books?search=Once' })).json().count, 1, 'one book')

  const other = await send({ ...payload, price: '2.00' })
  t.equal(other.statusCode, 422)
  t.equal(other.json().code, 'IDEMPOTENCY_KEY_REUSED')
  const elsewhere = await app.inject({ method: 'POST', url: `/api/v1/books/${first.json().id}/reviews`, payload: { review: 'Fine' }, headers: withKey('k-1', alice.auth) })
  t.equal(elsewhere.json().code, 'IDEMPOTENCY_KEY_REUSED', 'the same key on another route is another request')

  const bob = await createTestUser(app)
  const bobs = await app.inject({ method: 'POST', url: '/api/v1/books', payload, headers: withKey('k-1', bob.auth) })
  t.equal(bobs.statusCode, 201, 'keys belong to their caller')
  t.not(bobs.json().id, first.json().id)
})

t.test('an upload is the same request whatever its file is called, and another file is another request', async (t) => {
  const app = await buildTestApp(t)
  const alice = await createTestUser(app)
  const [jpeg, png] = [await images.jpeg(), await images.png()]
  const send = (file: Buffer, filename: string) => {
    const form = multipart([{ name: 'title', value: 'Named' }, { name: 'author', value: 'A' }, { name: 'price', value: '1' }, { name: 'cover', file, filename }])
    return app.inject({ method: 'POST', url: '/api/v1/books', payload: form.payload, headers: { ...form.headers, ...withKey('k-file', alice.auth) } })
  }
  const first = await send(jpeg, 'cover.jpg')
  t.equal(first.statusCode, 201)
  const renamed = await send(jpeg, 'IMG_0001.JPG')
  t.equal(renamed.headers['idempotent-replayed'], 'true', 'the same bytes under another name replay the answer')
  t.same(renamed.json(), first.json())
  t.equal((await send(png, 'cover.jpg')).json().code, 'IDEMPOTENCY_KEY_REUSED', 'other bytes are another request')
})

t.test('a repeat while the first request still runs is 409; client errors are kept, server errors are not', async (t) => {
  const store = await appWithStore(t, 's3')
  const admin = await createTestUser(store.app, { admin: true })
  const form = multipart([
    { name: 'title', value: 'Concurrent' },
    { name: 'content', value: 'text' },
    { name: 'image', file: await images.jpeg(2000, 1500), filename: 'big.jpg', contentType: 'image/jpeg' }
  ])
  const post = () => store.app.inject({ method: 'POST', url: '/api/v1/posts', payload: form.payload, headers: { ...form.headers, ...withKey('same', admin.auth) } })
  const answers = await Promise.all([post(), post()])
  t.same(answers.map((answer) => answer.statusCode).sort(), [201, 409])
  t.equal(answers.find((answer) => answer.statusCode === 409)!.json().code, 'IDEMPOTENCY_KEY_IN_USE')
  t.equal((await post()).statusCode, 201, 'once done, a repeat replays')
  t.equal((await store.app.inject({ url: '/api/v1/posts?search=Concurrent', headers: admin.auth })).json().count, 1)

  // A conflict is an answer like any other: the repeat gets it again.
  const http = client(store.app)
  const taken = { title: 'Concurrent', content: 'again' }
  const conflict = await store.app.inject({ method: 'POST', url: '/api/v1/posts', payload: taken, headers: withKey('taken', admin.auth) })
  t.equal(conflict.statusCode, 409)
  const replayed = await store.app.inject({ method: 'POST', url: '/api/v1/posts', payload: taken, headers: withKey('taken', admin.auth) })
  t.equal(replayed.statusCode, 409)
  t.equal(replayed.headers['idempotent-replayed'], 'true')

  // A failing store is a 503 that gives the key back: the retry does the work.
  await store.s3!.stop()
  const book = { title: 'Later', content: 'text' }
  const upload = multipart([...Object.entries(book).map(([name, value]) => ({ name, value })), { name: 'image', file: await images.jpeg(), filename: 'a.jpg', contentType: 'image/jpeg' }])
  const failed = await store.app.inject({ method: 'POST', url: '/api/v1/posts', payload: upload.payload, headers: { ...upload.headers, ...withKey('retry', admin.auth) } })
  t.equal(failed.statusCode, 503)
  await store.s3!.start()
  const retried = await store.app.inject({ method: 'POST', url: '/api/v1/posts', payload: upload.payload, headers: { ...upload.headers, ...withKey('retry', admin.auth) } })
  t.equal(retried.statusCode, 201)
  t.notOk(retried.headers['idempotent-replayed'])

  // A delete replays its 204 instead of answering 404.
  const id = retried.json().id
  t.equal((await store.app.inject({ method: 'DELETE', url: `/api/v1/posts/${id}`, headers: withKey('gone', admin.auth) })).statusCode, 204)
  const deletedAgain = await store.app.inject({ method: 'DELETE', url: `/api/v1/posts/${id}`, headers: withKey('gone', admin.auth) })
  t.equal(deletedAgain.statusCode, 204)
  t.equal(deletedAgain.body, '')
  t.equal((await http.delete(`/api/v1/posts/${id}`, admin)).statusCode, 404, 'without the key it is a new request')
})

t.test('registration, reviews and keys that are not keys', async (t) => {
  const app = await buildTestApp(t)
  const register = (key: string) =>
    app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { username: 'erin', email: 'erin@example.com', password: 'erin password' }, headers: withKey(key) })
  const first = await register('signup')
  t.equal(first.statusCode, 201)
  const again = await register('signup')
  t.equal(again.statusCode, 201, 'a repeated sign-up is not a 409')
  t.same(again.json(), first.json())

  const login = (key: string) => app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'erin', password: 'erin password' }, headers: withKey(key) })
  const [one, two] = [await login('login'), await login('login')]
  t.equal(two.statusCode, 200)
  t.notOk(two.headers['idempotent-replayed'], 'logins are never replayed: tokens are not kept')
  t.ok(one.json().access_token)

  const user = await createTestUser(app)
  const book = (await app.inject({ method: 'POST', url: '/api/v1/books', payload: { title: 'B', author: 'A', price: 1 }, headers: user.auth })).json()
  const review = () => app.inject({ method: 'POST', url: `/api/v1/books/${book.id}/reviews`, payload: { review: 'Good' }, headers: withKey('r', user.auth) })
  t.equal((await review()).statusCode, 201)
  t.equal((await review()).headers['idempotent-replayed'], 'true')
  t.equal((await app.inject({ url: `/api/v1/books/${book.id}` })).json().review_count, 1)

  for (const bad of ['has space', 'x'.repeat(256), 'é']) {
    const response = await app.inject({ method: 'POST', url: '/api/v1/books', payload: { title: 'B', author: 'A', price: 1 }, headers: withKey(bad, user.auth) })
    t.equal(response.statusCode, 400, `${bad.slice(0, 12)}: 400`)
    t.match(response.json(), { code: 'VALIDATION_ERROR', message: /idempotency-key/ })
  }
})

t.test('answers are kept for 24 hours: then the key is new again, and the old answer is pruned', async (t) => {
  const app = await buildTestApp(t)
  const user = await createTestUser(app)
  const send = () => app.inject({ method: 'POST', url: '/api/v1/books', payload: { title: 'Aged', author: 'A', price: 1 }, headers: withKey('aged', user.auth) })
  const first = await send()
  t.equal((await send()).headers['idempotent-replayed'], 'true')
  await app.db.update(idempotencyKeys).set({ createdAt: new Date(Date.now() - 25 * 3600_000) })
  const later = await send()
  t.equal(later.statusCode, 201)
  t.notOk(later.headers['idempotent-replayed'], 'an expired key does the work again')
  t.not(later.json().id, first.json().id)

  await app.inject({ method: 'POST', url: '/api/v1/books', payload: { title: 'Fresh', author: 'A', price: 1 }, headers: withKey('fresh', user.auth) })
  await app.db.update(idempotencyKeys).set({ createdAt: new Date(Date.now() - 25 * 3600_000) }).where(eq(idempotencyKeys.key, 'aged'))
  t.equal(await pruneIdempotencyKeys(app.db), 1)
  t.same((await app.db.select({ key: idempotencyKeys.key }).from(idempotencyKeys)).map((row) => row.key), ['fresh'])
})
