import t from 'tap'
import { buildTestApp, createTestUser } from './helpers/app.js'
import { listenLocally } from './helpers/http.js'
import { MAX_FIELD_ERRORS } from '../src/errors/field-errors.js'

interface FieldErrorAnswer {
  statusCode: number
  code: string
  message: string
  errors: Array<{ field: string; code: string; message: string }>
}

t.test('every problem of a request, keyed by field, over real HTTP', async (t) => {
  const app = await buildTestApp(t)
  const base = await listenLocally(app)
  const user = await createTestUser(app)
  const admin = await createTestUser(app, { admin: true })
  const answer = async (response: Promise<Response>) => {
    const res = await response
    return { status: res.status, body: (await res.json()) as FieldErrorAnswer }
  }
  const json = (path: string, body: unknown, auth = user.auth) =>
    answer(fetch(`${base}${path}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) }))
  const form = (path: string, fields: Record<string, string>, auth = admin.auth) => {
    const data = new FormData()
    for (const [name, value] of Object.entries(fields)) data.set(name, value)
    return answer(fetch(`${base}${path}`, { method: 'POST', headers: auth, body: data }))
  }

  await t.test('three bad fields in a JSON body give three entries', async (t) => {
    const { status, body } = await json('/api/v1/books', { title: 'x'.repeat(201), price: 'cheap' })
    t.equal(status, 400)
    t.equal(body.code, 'VALIDATION_ERROR')
    t.equal(body.message, "body must have required property 'author'", 'the message still names the first problem')
    t.same(
      [...body.errors].sort((a, b) => a.field.localeCompare(b.field)),
      [
        { field: 'author', code: 'required', message: 'is required' },
        { field: 'price', code: 'not_a_decimal', message: 'must be: A decimal from 0 to 9999.99 with at most 2 decimal places, as a JSON number or string' },
        { field: 'title', code: 'too_long', message: 'must be at most 200 characters' }
      ]
    )
  })

  await t.test('three bad fields in a form give three entries, a bad boolean among them', async (t) => {
    const { status, body } = await form('/api/v1/posts', { title: '', content: 'Text', is_published: 'maybe', slug: 'Not A Slug' })
    t.equal(status, 400)
    t.equal(body.code, 'VALIDATION_ERROR')
    t.same(
      [...body.errors].sort((a, b) => a.field.localeCompare(b.field)),
      [
        { field: 'is_published', code: 'not_a_boolean', message: 'must be a boolean: true, false, 1, 0, on, off' },
        { field: 'slug', code: 'not_a_slug', message: 'must be: Lowercase letters, digits and single hyphens; unique' },
        { field: 'title', code: 'too_short', message: 'must not be empty' }
      ]
    )
  })

  await t.test('query strings are keyed under query., unknown fields under their name', async (t) => {
    const query = await answer(fetch(`${base}/api/v1/books?page=0&page_size=500&ordering=cheapest`))
    t.equal(query.status, 400)
    t.same(query.body.errors.map((error) => [error.field, error.code]).sort(), [
      ['query.ordering', 'not_allowed'],
      ['query.page', 'too_small'],
      ['query.page_size', 'too_large']
    ])
    const unknown = await json('/api/v1/books', { title: 'Dune', author: 'Frank Herbert', price: '9.00', prise: '9.00' })
    t.equal(unknown.body.code, 'UNKNOWN_FIELD')
    t.match(unknown.body.errors, [{ field: 'prise', code: 'unknown_field', message: /its fields: title, author, price, cover/ }])
  })

  await t.test('a body with 10,000 bad fields gets a capped list, quickly', async (t) => {
    const body = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`field${i}`, i]))
    const { status, body: error } = await json('/api/v1/books', body)
    t.equal(status, 400)
    t.equal(error.errors.length, MAX_FIELD_ERRORS, 'capped')
    t.same(error.errors[0], { field: 'title', code: 'required', message: 'is required' })
  })
})
