// The whole flow through a client made by openapi-typescript + openapi-fetch:
//   node generate.mjs openapi.yaml schema.d.ts, then run this with API_URL set.
import { readFileSync } from 'node:fs'
import createClient from 'openapi-fetch'
import type { paths } from './schema.js'

const baseUrl = process.env['API_URL'] ?? 'http://localhost:3000'
const image = (path: string, type: string) => new Blob([readFileSync(path)], { type })
const cover = image(process.env['COVER_JPEG'] ?? 'cover.jpg', 'image/jpeg')
const newCover = image(process.env['COVER_PNG'] ?? 'cover.png', 'image/png')

/** A form from a body whose fields are text, numbers, booleans or files. */
function asForm(body: Record<string, string | number | boolean | Blob | null | undefined>): FormData {
  const form = new FormData()
  for (const [name, value] of Object.entries(body)) {
    if (value instanceof Blob) form.append(name, value, name)
    else if (value !== undefined && value !== null) form.append(name, String(value))
  }
  return form
}

/** The answer's data, or a thrown error naming the step and the API's error code. */
function must<T>(step: string, result: { data?: T; error?: { code: string; message: string } }): T {
  if (result.data === undefined) throw new Error(`${step}: ${result.error?.code ?? 'no data'} ${result.error?.message ?? ''}`)
  return result.data
}

const anonymous = createClient<paths>({ baseUrl })
const username = `reader${Date.now()}`
const password = 'correct horse battery'
must('register', await anonymous.POST('/api/v1/auth/register', { body: { username, email: `${username}@example.com`, password } }))
const token = must('login', await anonymous.POST('/api/v1/auth/login', { body: { username, password } }))
const api = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token.access_token}` } })

const book = must('create a book with a cover', await api.POST('/api/v1/books', {
  body: { title: `Dune ${username}`, author: 'Frank Herbert', price: '9.99', cover },
  bodySerializer: asForm
}))
if (!book.cover) throw new Error('the new book has no cover')

const found = must('list', await api.GET('/api/v1/books', { params: { query: { search: username } } }))
if (found.results[0]?.id !== book.id) throw new Error('the book is not found by search')

must('review', await api.POST('/api/v1/books/{id}/reviews', { params: { path: { id: book.id } }, body: { review: 'A classic.' } }))
const replaced = must('replace the cover', await api.PUT('/api/v1/books/{id}/cover', {
  params: { path: { id: book.id } },
  body: { cover: newCover },
  bodySerializer: asForm
}))
if (!replaced.cover?.endsWith('.png') || replaced.review_count !== 1) throw new Error('the cover was not replaced')
const uncovered = must('remove the cover', await api.DELETE('/api/v1/books/{id}/cover', { params: { path: { id: book.id } } }))
if (uncovered.cover !== null) throw new Error('the cover was not removed')
const deleted = await api.DELETE('/api/v1/books/{id}', { params: { path: { id: book.id } } })
if (deleted.response.status !== 204) throw new Error(`delete answered ${deleted.response.status}`)

const adminToken = must('admin login', await anonymous.POST('/api/v1/auth/login', {
  body: { username: process.env['ADMIN_USERNAME'] ?? 'admin', password: process.env['ADMIN_PASSWORD'] ?? '' }
}))
const admin = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${adminToken.access_token}` } })
const post = must('create a post with an image', await admin.POST('/api/v1/posts', {
  body: { title: `Hello from ${username}`, content: 'Posted by a generated client.', is_published: 'true', image: cover },
  bodySerializer: asForm
}))
if (!post.image || !post.is_published) throw new Error('the post has no image')

console.log(JSON.stringify({ book: book.id, post: post.id, done: true }))
