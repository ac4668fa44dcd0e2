import t from 'tap'
import { eq } from 'drizzle-orm'
import { posts } from '../../src/db/schema.js'
import { buildTestApp, createTestUser } from '../helpers/app.js'
import * as images from '../helpers/images.js'
import { client } from '../helpers/http.js'
import { appWithStore, nameOf } from '../helpers/stores.js'

const API = '/api/v1/posts'


t.test('posts: permissions, shapes, slugs, lists', async (t) => {
  const app = await buildTestApp(t, { PUBLIC_URL: 'https://api.example.com' })
  const admin = await createTestUser(app, { admin: true, username: 'editor' })
  const user = await createTestUser(app)
  const http = client(app)

  let published: { id: number; slug: string }
  let draft: { id: number }

  await t.test('an admin creates a post: 201, Location, the detail shape', async (t) => {
    const fields = { title: 'Hello, world', content: 'Body', excerpt: 'Short', is_published: true }
    for (const [field, value] of Object.entries({ id: 999, author: { id: 42 }, created_at: '2000-01-01T00:00:00Z', url: 'https://example.com/' })) {
      t.match((await http.json('POST', API, { ...fields, [field]: value }, admin)).json(), { statusCode: 400, code: 'UNKNOWN_FIELD', message: `body/${field} is not a field of this request` }, `read-only ${field} is refused`)
    }
    const res = await http.json('POST', API, fields, admin)
    t.equal(res.statusCode, 201, res.body)
    const body = res.json()
    t.same(Object.keys(body).sort(), ['author', 'content', 'created_at', 'excerpt', 'id', 'image', 'image_info', 'is_published', 'slug', 'title', 'updated_at', 'url'])
    t.match(body, { title: 'Hello, world', slug: 'hello-world', content: 'Body', excerpt: 'Short', is_published: true, image: null, author: { id: admin.id, username: 'editor' } })
    t.equal(body.url, `https://api.example.com/api/v1/posts/${body.id}`)
    t.equal(res.headers.location, body.url)
    published = body
    const second = await http.json('POST', API, { title: 'A draft', content: 'Secret' }, admin)
    t.match(second.json(), { is_published: false, excerpt: '' }, 'defaults')
    draft = second.json()
  })

  await t.test('the permissions matrix', async (t) => {
    const url = `${API}/${published.id}`
    const writes: Array<[string, () => Promise<{ statusCode: number }>, number]> = []
    for (const [who, name, created, changed, deleted] of [
      [undefined, 'anonymous', 401, 401, 401],
      [user, 'user', 403, 403, 403]
    ] as const) {
      writes.push([`${name} POST`, () => http.json('POST', API, { title: `by ${name}`, content: 'x' }, who), created])
      writes.push([`${name} PUT`, () => http.json('PUT', url, { title: 'x', content: 'x' }, who), changed])
      writes.push([`${name} PATCH`, () => http.json('PATCH', url, { title: 'x' }, who), changed])
      writes.push([`${name} DELETE`, () => http.delete(url, who), deleted])
    }
    for (const [name, call, status] of writes) t.equal((await call()).statusCode, status, name)
    const unauthorized = await http.json('POST', API, { title: 'x', content: 'x' })
    t.equal(unauthorized.headers['www-authenticate'], 'Bearer')
    t.equal((await http.get(url)).json().title, 'Hello, world', 'nothing changed')
    t.equal(await app.db.$count(posts), 2, 'nothing was created')
  })

  await t.test('unpublished posts are invisible to everyone but admins', async (t) => {
    for (const who of [undefined, user]) {
      t.equal((await http.get(`${API}/${draft.id}`, who)).statusCode, 404)
      t.equal((await http.get(`${API}/slug/a-draft`, who)).statusCode, 404)
      const list = (await http.get(`${API}?is_published=false`, who)).json()
      t.same(list.results.map((p: { id: number }) => p.id), [published.id], 'the filter is ignored for non-admins')
      t.equal(list.count, 1)
    }
    t.equal((await http.get(`${API}/${draft.id}`, admin)).statusCode, 200)
    t.equal((await http.get(`${API}/slug/a-draft`, admin)).json().id, draft.id)
    t.same((await http.get(API, admin)).json().results.map((p: { id: number }) => p.id), [draft.id, published.id])
    t.same((await http.get(`${API}?is_published=false`, admin)).json().results.map((p: { id: number }) => p.id), [draft.id])
    // Each filter's total, as the counts kept for the unfiltered lists work it out.
    for (const [query, count] of [['', 2], ['?is_published=true', 1], ['?is_published=false', 1], ['?search=draft', 1]] as const) {
      t.equal((await http.get(`${API}${query}`, admin)).json().count, count, `count for "${query}"`)
    }
    t.equal((await http.get(`${API}/slug/hello-world`)).json().id, published.id)
  })

  await t.test('malformed and unknown ids are 404', async (t) => {
    for (const id of ['abc', '0', '-1', '1.5', '99999', '99999999999', "1' or '1'='1"]) {
      t.equal((await http.get(`${API}/${encodeURIComponent(id)}`)).statusCode, 404, id)
    }
    t.equal((await http.json('PATCH', `${API}/abc`, { title: 'x' }, admin)).statusCode, 404)
    t.equal((await http.delete(`${API}/99999`, admin)).statusCode, 404)
  })

  await t.test('titles are unique, also when two requests race', async (t) => {
    const dup = await http.json('POST', API, { title: 'Hello, world', content: 'x' }, admin)
    t.equal(dup.statusCode, 409)
    t.equal(dup.json().code, 'TITLE_TAKEN')
    const race = await Promise.all([1, 2].map(() => http.json('POST', API, { title: 'Racing title', content: 'x' }, admin)))
    t.same(race.map((r) => r.statusCode).sort(), [201, 409])
    t.equal(race.find((r) => r.statusCode === 409)?.json().code, 'TITLE_TAKEN')
    const rename = await http.json('PATCH', `${API}/${draft.id}`, { title: 'Hello, world' }, admin)
    t.equal(rename.json().code, 'TITLE_TAKEN', 'on update too')
  })

  await t.test('slugs: derived, made unique, explicit ones checked, stable on rename', async (t) => {
    const again = await http.json('POST', API, { title: 'Hello world!', content: 'x' }, admin)
    t.equal(again.json().slug, 'hello-world-2', 'a derived slug is numbered')
    const third = await http.json('POST', API, { title: 'HELLO WORLD', content: 'x' }, admin)
    t.equal(third.json().slug, 'hello-world-3')
    t.equal((await http.json('POST', API, { title: 'Привет мир', content: 'x' }, admin)).json().slug, 'privet-mir')
    t.equal((await http.json('POST', API, { title: '日本語のタイトル', content: 'x' }, admin)).json().slug, 'post')
    const explicit = await http.json('POST', API, { title: 'Explicit', content: 'x', slug: 'hello-world' }, admin)
    t.equal(explicit.statusCode, 409)
    t.equal(explicit.json().code, 'SLUG_TAKEN')
    t.equal((await http.json('POST', API, { title: 'Bad slug', content: 'x', slug: 'Not A Slug' }, admin)).statusCode, 400)
    const renamed = await http.json('PATCH', `${API}/${published.id}`, { title: 'Hello, renamed world' }, admin)
    t.equal(renamed.json().slug, 'hello-world', 'the slug survives a new title')
    const reslugged = await http.json('PATCH', `${API}/${published.id}`, { slug: 'hello-again' }, admin)
    t.equal(reslugged.json().slug, 'hello-again')
    t.equal((await http.json('PATCH', `${API}/${draft.id}`, { slug: 'hello-again' }, admin)).json().code, 'SLUG_TAKEN')
  })

  await t.test('PUT replaces, PATCH changes only what is sent', async (t) => {
    const url = `${API}/${published.id}`
    const missing = await http.json('PUT', url, { title: 'Only a title' }, admin)
    t.equal(missing.statusCode, 400)
    t.match(missing.json().message, /content/)
    const before = (await http.get(url)).json()
    const patched = (await http.json('PATCH', url, { excerpt: 'New excerpt' }, admin)).json()
    t.match(patched, { title: before.title, content: before.content, slug: before.slug, is_published: true, excerpt: 'New excerpt' })
    t.ok(patched.updated_at > before.updated_at, 'updated_at moves')
    t.equal(patched.created_at, before.created_at)
    const put = (await http.json('PUT', url, { title: 'Replaced', content: 'New body' }, admin)).json()
    t.match(put, { title: 'Replaced', content: 'New body', excerpt: '', is_published: false, slug: before.slug })
    await http.json('PATCH', url, { is_published: true }, admin)
  })

  await t.test('JSON and multipart bodies give the same result', async (t) => {
    const fromJson = (await http.json('POST', API, { title: 'Twin A', content: 'Same', excerpt: 'E', is_published: true }, admin)).json()
    const fromForm = (await http.form('POST', API, [{ name: 'title', value: 'Twin B' }, { name: 'content', value: 'Same' }, { name: 'excerpt', value: 'E' }, { name: 'is_published', value: 'on' }], admin)).json()
    const strip = ({ id: _i, title: _t, slug: _s, url: _u, created_at: _c, updated_at: _d, ...rest }: Record<string, unknown>) => rest
    t.same(strip(fromForm), strip(fromJson))
    for (const [value, expected] of [['true', true], ['1', true], ['on', true], ['false', false], ['0', false], ['off', false]] as const) {
      const res = await http.form('PATCH', `${API}/${fromForm.id}`, [{ name: 'is_published', value }], admin)
      t.equal(res.json().is_published, expected, `is_published=${value}`)
    }
    t.equal((await http.form('PATCH', `${API}/${fromForm.id}`, [{ name: 'is_published', value: 'yes' }], admin)).statusCode, 400)
    t.equal((await http.form('PATCH', `${API}/${fromForm.id}`, [{ name: 'image', value: 'photo.jpg' }], admin)).statusCode, 400, 'a file field sent as text')
  })

  await t.test('pages: absolute links keeping the other parameters; past the end is 404', async (t) => {
    for (let i = 0; i < 23; i++) await http.json('POST', API, { title: `Page item ${String(i).padStart(2, '0')}`, content: 'x', excerpt: 'paged', is_published: true }, admin)
    const first = (await http.get(`${API}?search=paged&page_size=10&ordering=title`)).json()
    t.equal(first.count, 23)
    t.equal(first.results.length, 10)
    t.equal(first.previous, null)
    t.equal(first.next, 'https://api.example.com/api/v1/posts?search=paged&page_size=10&ordering=title&page=2')
    const last = (await http.get(`${API}?search=paged&page_size=10&ordering=title&page=3`)).json()
    t.equal(last.results.length, 3)
    t.equal(last.next, null)
    t.equal(last.previous, 'https://api.example.com/api/v1/posts?search=paged&page_size=10&ordering=title&page=2')
    t.same(last.results.map((p: { title: string }) => p.title), ['Page item 20', 'Page item 21', 'Page item 22'])
    t.equal((await http.get(`${API}?search=paged&page_size=10&page=4`)).statusCode, 404)
    const empty = await http.get(`${API}?search=nothing-matches-this`)
    t.same(empty.json(), { count: 0, next: null, previous: null, results: [] })
    for (const query of ['page=0', 'page_size=0', 'page_size=101', 'page=x', 'ordering=bogus']) {
      const res = await http.get(`${API}?${query}`)
      t.equal(res.statusCode, 400, query)
    }
    t.match((await http.get(`${API}?ordering=bogus`)).json().message, /created_at, -created_at, title, -title/)
  })

  await t.test('search is case-insensitive, literal, over title and excerpt; ordering works both ways', async (t) => {
    await http.json('POST', API, { title: '100% pure', content: 'x', excerpt: 'snake_case here', is_published: true }, admin)
    const titles = async (query: string) => (await http.get(`${API}?${query}`)).json().results.map((p: { title: string }) => p.title)
    t.same(await titles('search=PURE'), ['100% pure'])
    t.same(await titles(`search=${encodeURIComponent('100%')}`), ['100% pure'])
    t.same(await titles('search=%25'), ['100% pure'], '% matches itself only')
    t.same(await titles('search=_'), ['100% pure'], '_ matches itself only')
    t.same(await titles('search=SNAKE'), ['100% pure'], 'excerpt too')
    const asc = await titles('search=page%20item&ordering=title&page_size=3')
    const desc = await titles('search=page%20item&ordering=-title&page_size=3')
    t.same(asc, ['Page item 00', 'Page item 01', 'Page item 02'])
    t.same(desc, ['Page item 22', 'Page item 21', 'Page item 20'])
    const newest = await titles('ordering=-created_at&page_size=1')
    const oldest = await titles('ordering=created_at&page_size=1')
    t.same(newest, ['100% pure'])
    t.same(oldest, ['Replaced'])
  })

  await t.test('DELETE removes the post', async (t) => {
    t.equal((await http.delete(`${API}/${draft.id}`, admin)).statusCode, 204)
    t.equal((await http.get(`${API}/${draft.id}`, admin)).statusCode, 404)
  })
})

for (const kind of ['local', 's3'] as const) {
  t.test(`post images on the ${kind} store`, async (t) => {
    const { app, names, s3 } = await appWithStore(t, kind)
    const admin = await createTestUser(app, { admin: true })
    const http = client(app)
    const jpeg = await images.jpegWithGpsAndOrientation()
    const png = await images.png()

    const created = await http.form('POST', API, [{ name: 'image', file: jpeg, filename: 'holiday.jpg' }, { name: 'title', value: 'With image' }, { name: 'content', value: 'x' }, { name: 'is_published', value: 'true' }], admin)
    t.equal(created.statusCode, 201, created.body)
    const post = created.json()
    const first = nameOf(post.image)!
    t.match(first, /^post_images\/[0-9a-f-]{36}\.jpg$/)
    t.same(await names(), [first], 'created: one object')
    if (kind === 'local') {
      const served = await app.inject({ url: new URL(post.image).pathname })
      t.equal(served.statusCode, 200)
      t.equal(served.headers['content-type'], 'image/jpeg')
    }

    const replaced = (await http.form('PATCH', `${API}/${post.id}`, [{ name: 'image', file: png, filename: 'new.png' }], admin)).json()
    const second = nameOf(replaced.image)!
    t.match(second, /\.png$/)
    t.same(await names(), [second], 'replaced: the old object is gone')

    const failedCreate = await http.form('POST', API, [{ name: 'title', value: 'With image' }, { name: 'content', value: 'x' }, { name: 'image', file: png }], admin)
    t.equal(failedCreate.json().code, 'TITLE_TAKEN')
    t.same(await names(), [second], 'a conflicting create leaves no object behind')

    const invalid = await http.form('PATCH', `${API}/${post.id}`, [{ name: 'image', file: images.hostile.svgWithScript() }], admin)
    t.equal(invalid.statusCode, 415)
    t.same(await names(), [second])

    if (s3) {
      await s3.stop()
      const down = await http.form('PATCH', `${API}/${post.id}`, [{ name: 'image', file: jpeg }, { name: 'title', value: 'Not applied' }], admin)
      t.equal(down.statusCode, 503)
      t.equal(down.json().code, 'STORAGE_UNAVAILABLE')
      const downCreate = await http.form('POST', API, [{ name: 'title', value: 'Never' }, { name: 'content', value: 'x' }, { name: 'image', file: jpeg }], admin)
      t.equal(downCreate.statusCode, 503)
      await s3.start()
      const unchanged = (await http.get(`${API}/${post.id}`)).json()
      t.equal(unchanged.title, 'With image', 'the row is unchanged')
      t.equal(nameOf(unchanged.image), second, 'the old image is still referenced')
      t.same(await names(), [second], 'and still stored')
      t.equal(await app.db.$count(posts, eq(posts.title, 'Never')), 0)
    }

    const removed = (await http.form('PATCH', `${API}/${post.id}`, [{ name: 'image', value: '' }], admin)).json()
    t.equal(removed.image, null)
    t.same(await names(), [], 'removed with an empty form value')

    const again = (await http.form('PUT', `${API}/${post.id}`, [{ name: 'title', value: 'With image' }, { name: 'content', value: 'y' }, { name: 'image', file: jpeg }], admin)).json()
    t.same(await names(), [nameOf(again.image)])
    const kept = (await http.json('PUT', `${API}/${post.id}`, { title: 'With image', content: 'z' }, admin)).json()
    t.equal(kept.image, again.image, 'PUT without an image keeps it')
    const viaPut = await http.form('PUT', `${API}/${post.id}/image`, [{ name: 'image', file: png, filename: 'p.png' }], admin)
    t.equal(viaPut.statusCode, 200, viaPut.body)
    t.same(await names(), [nameOf(viaPut.json().image)], 'PUT .../image replaces the image')
    t.match((await http.form('PUT', `${API}/${post.id}/image`, [{ name: 'image', value: '' }], admin)).json(), { statusCode: 400, code: 'VALIDATION_ERROR' })
    t.equal((await http.delete(`${API}/${post.id}/image`)).statusCode, 401, 'anonymous')
    const uncovered = await http.delete(`${API}/${post.id}/image`, admin)
    t.match(uncovered.json(), { id: post.id, image: null })
    t.same(await names(), [], 'DELETE .../image deletes the object')
    const readded = (await http.form('PUT', `${API}/${post.id}/image`, [{ name: 'image', file: png }], admin)).json()
    t.same(await names(), [nameOf(readded.image)])
    const viaJson = (await http.json('PATCH', `${API}/${post.id}`, { image: null }, admin)).json()
    t.equal(viaJson.image, null)
    t.same(await names(), [], 'removed with JSON null')

    const last = (await http.form('PATCH', `${API}/${post.id}`, [{ name: 'image', file: png }], admin)).json()
    t.same(await names(), [nameOf(last.image)])
    t.equal((await http.delete(`${API}/${post.id}`, admin)).statusCode, 204)
    t.same(await names(), [], 'deleting the post deletes its image')
  })
}
