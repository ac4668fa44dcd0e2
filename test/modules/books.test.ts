import t from 'tap'
import { eq } from 'drizzle-orm'
import { books, reviews } from '../../src/db/schema.js'
import { buildTestApp, createTestUser, type TestUser } from '../helpers/app.js'
import * as images from '../helpers/images.js'
import { client } from '../helpers/http.js'
import { appWithStore, nameOf } from '../helpers/stores.js'

const API = '/api/v1/books'


const dune = { title: 'Dune', author: 'Frank Herbert', price: '69.00' }

t.test('books and reviews', async (t) => {
  const app = await buildTestApp(t, { PUBLIC_URL: 'https://api.example.com' })
  const creator = await createTestUser(app, { username: 'creator' })
  const other = await createTestUser(app, { username: 'other' })
  const admin = await createTestUser(app, { admin: true, username: 'admin' })
  const http = client(app)
  const create = async (fields: object = dune, who: TestUser = creator) => {
    const res = await http.json('POST', API, fields, who)
    t.equal(res.statusCode, 201, res.body)
    return res.json()
  }

  await t.test('any user adds a book and becomes its creator; read-only fields are refused, not dropped', async (t) => {
    t.equal((await http.json('POST', API, dune)).statusCode, 401, 'anonymous')
    for (const [field, value] of Object.entries({ creator: { id: other.id }, creator_id: other.id, id: '00000000-0000-4000-8000-000000000000', review_count: 99 })) {
      const refused = await http.json('POST', API, { ...dune, [field]: value }, creator)
      t.equal(refused.statusCode, 400, field)
      t.match(refused.json(), { code: 'UNKNOWN_FIELD', message: `body/${field} is not a field of this request` })
    }
    t.equal((await http.get(`${API}?page_size=100`)).json().count, 0, 'nothing was created')
    const res = await http.json('POST', API, dune, creator)
    t.equal(res.statusCode, 201)
    const book = res.json()
    t.same(Object.keys(book).sort(), ['author', 'cover', 'cover_info', 'created_at', 'creator', 'id', 'price', 'review_count', 'reviews', 'title', 'updated_at'])
    t.match(book, { title: 'Dune', author: 'Frank Herbert', price: '69.00', cover: null, cover_info: null, creator: { id: creator.id, username: 'creator' }, review_count: 0, reviews: [] })
    t.not(book.id, '00000000-0000-4000-8000-000000000000')
    t.equal(res.headers.location, `https://api.example.com/api/v1/books/${book.id}`)
  })

  await t.test('prices are exact decimals, answered with two decimals', async (t) => {
    const accepted: Array<[unknown, string]> = [[12.5, '12.50'], ['12.5', '12.50'], [0, '0.00'], ['0', '0.00'], [9999.99, '9999.99'], ['9999.99', '9999.99'], [69, '69.00'], ['0.07', '0.07'], [0.1, '0.10']]
    for (const [price, answer] of accepted) {
      const res = await http.json('POST', API, { ...dune, price }, creator)
      t.equal(res.statusCode, 201, `${JSON.stringify(price)} ${res.body}`)
      t.equal(res.json().price, answer, JSON.stringify(price))
    }
    const refused: unknown[] = [-1, '-1', 10000, '10000', 12.345, '12.345', 'abc', '', '1e3', 1e21, ' 12', '12.', '.5', '012', null, true, { amount: 1 }]
    for (const price of refused) {
      const res = await http.json('POST', API, { ...dune, price }, creator)
      t.equal(res.statusCode, 400, JSON.stringify(price))
      t.match(res.json(), { code: 'VALIDATION_ERROR', message: /price/ })
    }
    const form = await http.form('POST', API, [{ name: 'title', value: 'F' }, { name: 'author', value: 'A' }, { name: 'price', value: '7.5' }], creator)
    t.equal(form.json().price, '7.50', 'forms too')
  })

  await t.test('required fields and bounds', async (t) => {
    for (const payload of [{ title: 'x', author: 'y' }, { ...dune, title: '' }, { ...dune, author: 'a'.repeat(201) }, { ...dune, title: 't'.repeat(201) }]) {
      t.equal((await http.json('POST', API, payload, creator)).statusCode, 400, JSON.stringify(payload).slice(0, 60))
    }
  })

  await t.test('the permissions matrix: anonymous, other user, creator, admin', async (t) => {
    const book = await create()
    const url = `${API}/${book.id}`
    const cases: Array<[string, TestUser | undefined, number]> = [
      ['anonymous', undefined, 401],
      ['other user', other, 403],
      ['creator', creator, 200],
      ['admin', admin, 200]
    ]
    for (const [name, who, status] of cases) {
      t.equal((await http.json('PUT', url, { ...dune, title: `PUT by ${name}` }, who)).statusCode, status, `${name} PUT`)
      t.equal((await http.json('PATCH', url, { title: `PATCH by ${name}` }, who)).statusCode, status, `${name} PATCH`)
    }
    t.equal((await http.get(url)).json().title, 'PATCH by admin')
    t.equal((await http.delete(url)).statusCode, 401, 'anonymous DELETE')
    t.equal((await http.delete(url, other)).statusCode, 403, 'other user DELETE')
    t.equal((await http.delete(url, creator)).statusCode, 204, 'creator DELETE')
    const second = await create()
    t.equal((await http.delete(`${API}/${second.id}`, admin)).statusCode, 204, 'admin DELETE')
    const forbidden = await http.json('PATCH', `${API}/${(await create()).id}`, { price: 'abc' }, other)
    t.equal(forbidden.statusCode, 403, 'permission is checked before validation of a change is reported')
  })

  await t.test('a misspelt field is refused in JSON and in forms, and changes nothing', async (t) => {
    const book = await create()
    const json = await http.json('PATCH', `${API}/${book.id}`, { prise: '5.00' }, creator)
    t.equal(json.statusCode, 400)
    t.match(json.json(), { code: 'UNKNOWN_FIELD', message: 'body/prise is not a field of this request (its fields: title, author, price, cover)' })
    const form = await http.form('PATCH', `${API}/${book.id}`, [{ name: 'price', value: '5.00' }, { name: 'titel', value: 'Dune Messiah' }], creator)
    t.equal(form.statusCode, 400)
    t.match(form.json(), { code: 'UNKNOWN_FIELD', message: 'body/titel is not a field of this request' })
    t.match((await http.get(`${API}/${book.id}`)).json(), { title: 'Dune', price: '69.00' })
    t.equal((await http.get(`${API}?page_size=5&utm_source=mail`)).statusCode, 200, 'unknown query parameters are ignored')
  })

  await t.test('PUT needs every field, PATCH changes only what is sent', async (t) => {
    const book = await create()
    t.equal((await http.json('PUT', `${API}/${book.id}`, { title: 'Only title' }, creator)).statusCode, 400)
    const patched = (await http.json('PATCH', `${API}/${book.id}`, { price: 1 }, creator)).json()
    t.match(patched, { title: 'Dune', author: 'Frank Herbert', price: '1.00' })
    t.ok(patched.updated_at > book.updated_at)
  })

  await t.test('ids: malformed and unknown UUIDs are 404', async (t) => {
    const book = await create()
    for (const id of ['not-a-uuid', '123', `${book.id}x`, '00000000-0000-4000-8000-000000000000', "' or 1=1 --"]) {
      const url = `${API}/${encodeURIComponent(id)}`
      t.equal((await http.get(url)).statusCode, 404, `GET ${id}`)
      t.equal((await http.json('PATCH', url, { title: 'x' }, admin)).statusCode, 404, `PATCH ${id}`)
      t.equal((await http.delete(url, admin)).statusCode, 404, `DELETE ${id}`)
      t.equal((await http.get(`${url}/reviews`)).statusCode, 404, `reviews of ${id}`)
      t.equal((await http.json('POST', `${url}/reviews`, { review: 'x' }, other)).statusCode, 404, `review ${id}`)
    }
    t.equal((await http.get(`${API}/${book.id.toUpperCase()}`)).json().id, book.id, 'UUIDs are not case-sensitive')
  })

  await t.test('reviews: bounds, newest ten in the detail, pages, who may delete', async (t) => {
    const book = await create()
    const url = `${API}/${book.id}/reviews`
    t.equal((await http.json('POST', url, { review: 'x' })).statusCode, 401)
    t.equal((await http.json('POST', url, { review: '' }, other)).statusCode, 400, 'empty')
    t.equal((await http.json('POST', url, { review: 'r'.repeat(256) }, other)).statusCode, 400, '256 characters')
    t.match((await http.json('POST', url, { review: 'mine', author: { id: admin.id } }, other)).json(), { statusCode: 400, code: 'UNKNOWN_FIELD' }, 'the author is the caller')
    const longest = await http.json('POST', url, { review: 'r'.repeat(255) }, other)
    t.equal(longest.statusCode, 201, '255 characters')
    t.match(longest.json(), { review: 'r'.repeat(255), author: { id: other.id, username: 'other' } })
    for (let i = 1; i <= 11; i++) await http.json('POST', url, { review: `review ${i}` }, i % 2 ? creator : other)

    const detail = (await http.get(`${API}/${book.id}`)).json()
    t.equal(detail.review_count, 12)
    t.same(detail.reviews.map((r: { review: string }) => r.review), Array.from({ length: 10 }, (_, i) => `review ${11 - i}`))

    const page = (await http.get(`${url}?page=2&page_size=5`)).json()
    t.equal(page.count, 12)
    t.same(page.results.map((r: { review: string }) => r.review), ['review 6', 'review 5', 'review 4', 'review 3', 'review 2'])
    t.equal(page.next, `https://api.example.com/api/v1/books/${book.id}/reviews?page=3&page_size=5`)
    t.equal((await http.get(`${url}?page=4&page_size=5`)).statusCode, 404)

    const reviewId = longest.json().id
    t.equal((await http.delete(`${url}/${reviewId}`)).statusCode, 401)
    t.equal((await http.delete(`${url}/${reviewId}`, creator)).statusCode, 403, 'not the review author, even as book creator')
    const elsewhere = await create()
    t.equal((await http.delete(`${API}/${elsewhere.id}/reviews/${reviewId}`, other)).statusCode, 404, 'a review of another book')
    t.equal((await http.delete(`${url}/abc`, other)).statusCode, 404)
    t.equal((await http.delete(`${url}/${reviewId}`, other)).statusCode, 204, 'its author')
    const byCreator = (await http.get(url)).json().results.find((r: { author: { id: number } }) => r.author.id === creator.id)
    t.equal((await http.delete(`${url}/${byCreator.id}`, admin)).statusCode, 204, 'an admin')
    t.equal((await http.get(`${API}/${book.id}`)).json().review_count, 10)
  })

  await t.test('deleting a book deletes its reviews', async (t) => {
    const book = await create()
    await http.json('POST', `${API}/${book.id}/reviews`, { review: 'gone soon' }, other)
    t.equal(await app.db.$count(reviews, eq(reviews.bookId, book.id)), 1)
    await http.delete(`${API}/${book.id}`, creator)
    t.equal(await app.db.$count(reviews, eq(reviews.bookId, book.id)), 0)
  })

  await t.test('lists: search in title and author, ordering both ways, creator filter, pages', async (t) => {
    await app.db.delete(books)
    const fixtures = [
      ['Alpha', 'Zed Writer', '30.00', creator],
      ['Beta', 'Yan Author', '10.00', other],
      ['Gamma', 'Xi Author', '20.00', creator],
      ['50% off_sale', 'Wu', '5.00', other]
    ] as const
    for (const [title, author, price, who] of fixtures) await create({ title, author, price }, who)
    const titles = async (query: string) => (await http.get(`${API}?${query}`)).json().results.map((b: { title: string }) => b.title)
    t.same(await titles('ordering=price'), ['50% off_sale', 'Beta', 'Gamma', 'Alpha'])
    t.same(await titles('ordering=-price'), ['Alpha', 'Gamma', 'Beta', '50% off_sale'])
    t.same(await titles('ordering=title'), ['50% off_sale', 'Alpha', 'Beta', 'Gamma'])
    t.same(await titles('ordering=-title'), ['Gamma', 'Beta', 'Alpha', '50% off_sale'])
    t.same(await titles('ordering=created_at'), ['Alpha', 'Beta', 'Gamma', '50% off_sale'])
    t.same(await titles(''), ['50% off_sale', 'Gamma', 'Beta', 'Alpha'], 'newest first by default')
    t.same(await titles('search=AUTHOR&ordering=title'), ['Beta', 'Gamma'], 'search looks in author')
    t.same(await titles('search=alp'), ['Alpha'], 'and in title')
    t.same(await titles('search=%25'), ['50% off_sale'])
    t.same(await titles('search=_'), ['50% off_sale'])
    t.same(await titles(`creator=${creator.id}&ordering=title`), ['Alpha', 'Gamma'])
    t.same(await titles('creator=999999'), [])
    const paged = (await http.get(`${API}?page_size=3&ordering=title&creator=${creator.id}`)).json()
    t.equal(paged.next, null)
    const two = (await http.get(`${API}?page_size=3&ordering=title`)).json()
    t.equal(two.next, 'https://api.example.com/api/v1/books?page_size=3&ordering=title&page=2')
    for (const query of ['ordering=author', 'creator=abc', 'page_size=1000']) t.equal((await http.get(`${API}?${query}`)).statusCode, 400, query)
  })
})

for (const kind of ['local', 's3'] as const) {
  t.test(`covers on the ${kind} store`, async (t) => {
    const { app, names, s3 } = await appWithStore(t, kind)
    const user = await createTestUser(app)
    const other = await createTestUser(app)
    const http = client(app)
    const jpeg = await images.jpeg()
    const webp = await images.webp()

    const created = await http.form('POST', API, [{ name: 'cover', file: jpeg, filename: 'cover.jpg' }, { name: 'title', value: 'Covered' }, { name: 'author', value: 'A' }, { name: 'price', value: '9.99' }], user)
    t.equal(created.statusCode, 201, created.body)
    const book = created.json()
    t.match(nameOf(book.cover), /^covers\/[0-9a-f-]{36}\.jpg$/)
    t.same(await names(), [nameOf(book.cover)])

    const refused = await http.form('PATCH', `${API}/${book.id}`, [{ name: 'cover', file: webp }], other)
    t.equal(refused.statusCode, 403)
    t.same(await names(), [nameOf(book.cover)], 'a refused write stores nothing')

    const replaced = (await http.form('PATCH', `${API}/${book.id}`, [{ name: 'cover', file: webp }], user)).json()
    t.match(nameOf(replaced.cover), /\.webp$/)
    t.same(await names(), [nameOf(replaced.cover)])

    if (s3) {
      await s3.stop()
      const down = await http.form('PUT', `${API}/${book.id}`, [{ name: 'title', value: 'Not applied' }, { name: 'author', value: 'B' }, { name: 'price', value: '1' }, { name: 'cover', file: jpeg }], user)
      t.equal(down.json().code, 'STORAGE_UNAVAILABLE')
      await s3.start()
      const unchanged = (await http.get(`${API}/${book.id}`)).json()
      t.match(unchanged, { title: 'Covered', cover: replaced.cover }, 'the row and its cover are untouched')
      t.same(await names(), [nameOf(replaced.cover)])
    }

    const removed = (await http.json('PATCH', `${API}/${book.id}`, { cover: null }, user)).json()
    t.equal(removed.cover, null)
    t.same(await names(), [])

    const viaPut = await http.form('PUT', `${API}/${book.id}/cover`, [{ name: 'cover', file: webp, filename: 'c.webp' }], user)
    t.equal(viaPut.statusCode, 200, viaPut.body)
    t.match(viaPut.json(), { id: book.id, title: 'Covered' })
    t.same(await names(), [nameOf(viaPut.json().cover)], 'PUT .../cover stores the cover')
    const refusals: Array<[string, Promise<{ json: () => unknown }>, object]> = [
      ['a stranger', http.form('PUT', `${API}/${book.id}/cover`, [{ name: 'cover', file: jpeg }], other), { statusCode: 403 }],
      ['an empty file', http.form('PUT', `${API}/${book.id}/cover`, [{ name: 'cover', value: '' }], user), { statusCode: 400, message: 'body/cover must be a file upload (send multipart/form-data)' }],
      ['JSON', http.json('PUT', `${API}/${book.id}/cover`, { cover: null }, user), { statusCode: 400, code: 'VALIDATION_ERROR' }],
      ['no file', http.form('PUT', `${API}/${book.id}/cover`, [], user), { statusCode: 400 }],
      ['another field', http.form('PUT', `${API}/${book.id}/cover`, [{ name: 'title', value: 'x' }, { name: 'cover', file: jpeg }], user), { statusCode: 400, code: 'UNKNOWN_FIELD' }]
    ]
    for (const [what, answer, expected] of refusals) t.match((await answer).json(), expected, what)
    t.same(await names(), [nameOf(viaPut.json().cover)], 'refused cover uploads store nothing')
    t.equal((await http.delete(`${API}/${book.id}/cover`, other)).statusCode, 403)
    const uncovered = await http.delete(`${API}/${book.id}/cover`, user)
    t.equal(uncovered.statusCode, 200)
    t.match(uncovered.json(), { id: book.id, cover: null })
    t.same(await names(), [], 'DELETE .../cover deletes the object')
    t.match((await http.delete(`${API}/${book.id}/cover`, user)).json(), { id: book.id, cover: null }, 'a book without a cover answers as it is')

    const last = (await http.form('PATCH', `${API}/${book.id}`, [{ name: 'cover', file: jpeg }], user)).json()
    await http.json('POST', `${API}/${book.id}/reviews`, { review: 'Nice cover' }, other)
    t.same(await names(), [nameOf(last.cover)])
    t.equal((await http.delete(`${API}/${book.id}`, user)).statusCode, 204)
    t.same(await names(), [], 'the cover goes with the book')
    t.equal(await app.db.$count(reviews), 0, 'and so do its reviews')
  })
}

t.test('a refused price is explained in words, not as a regular expression', async (t) => {
  const app = await buildTestApp(t)
  const user = await createTestUser(app)
  const res = await client(app).json('POST', API, { ...dune, price: '7.123' }, user)
  t.equal(res.json().message, 'body/price must be: A decimal from 0 to 9999.99 with at most 2 decimal places, as a JSON number or string')
})
