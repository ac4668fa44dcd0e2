import t from 'tap'
import { buildTestApp, createTestUser } from '../helpers/app.js'
import { listenLocally } from '../helpers/http.js'

t.test('concurrent posts whose titles derive the same slug are all created, numbered', async (t) => {
  const app = await buildTestApp(t)
  const base = await listenLocally(app)
  const admin = await createTestUser(app, { admin: true })
  const titles = Array.from({ length: 12 }, (_, i) => `Same slug${'!?.,;:'[i % 6]!.repeat(1 + Math.floor(i / 6))}`)
  const answers = await Promise.all(
    titles.map(async (title) => {
      const response = await fetch(`${base}/api/v1/posts`, { method: 'POST', headers: { ...admin.auth, 'content-type': 'application/json' }, body: JSON.stringify({ title, content: 'Body' }) })
      return { status: response.status, slug: ((await response.json()) as { slug?: string }).slug }
    })
  )
  t.same(answers.map((a) => a.status), Array(12).fill(201), 'no 409 SLUG_TAKEN')
  t.same(answers.map((a) => a.slug).sort(), ['same-slug', ...Array.from({ length: 11 }, (_, i) => `same-slug-${i + 2}`)].sort(), 'each gets its own number')
})

t.test('a lone UTF-16 surrogate is 400 naming the field, and nothing is stored', async (t) => {
  const app = await buildTestApp(t)
  const base = await listenLocally(app)
  const admin = await createTestUser(app, { admin: true })
  const send = (body: string) => fetch(`${base}/api/v1/posts`, { method: 'POST', headers: { ...admin.auth, 'content-type': 'application/json' }, body })
  for (const [name, body, field] of [
    ['a lone high surrogate in the title', '{"title":"broken \\ud800 title","content":"Body"}', 'body/title'],
    ['a lone low surrogate in the content', '{"title":"Fine","content":"\\udc00"}', 'body/content'],
    ['a reversed pair', '{"title":"Fine","content":"ok","excerpt":"\\udc00\\ud800"}', 'body/excerpt']
  ] as const) {
    const response = await send(body)
    t.equal(response.status, 400, name)
    t.match(await response.json(), { code: 'VALIDATION_ERROR', message: new RegExp(`^${field} must be well-formed`) }, `${name}: names ${field}`)
  }
  const paired = await send('{"title":"A pair \\ud83d\\ude00 is fine","content":"Body"}')
  t.equal(paired.status, 201, 'a surrogate pair (an emoji) is fine')
  t.match(await paired.json(), { title: 'A pair 😀 is fine' })
  t.equal((await app.inject({ url: '/api/v1/posts' })).json().count, 0, 'drafts are hidden; count through the admin')
  t.equal((await app.inject({ url: '/api/v1/posts', headers: admin.auth })).json().count, 1, 'only the well-formed post exists')
})
