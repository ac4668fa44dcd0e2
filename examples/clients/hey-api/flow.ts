// The whole flow through a client made by @hey-api/openapi-ts:
//   npx @hey-api/openapi-ts -i ./openapi.yaml -o client -c @hey-api/client-fetch, then run this with API_URL set.
// hey-api sends JSON wherever an operation also takes JSON, so files go through the
// operations that take a form only: PUT .../cover and PUT .../image.
import { readFileSync } from 'node:fs'
import { client } from './client/client.gen.js'
import {
  createBook, createPost, createReview, deleteBook, deleteBookCover, listBooks, login, register, setBookCover, setPostImage
} from './client/index.js'

client.setConfig({ baseUrl: process.env['API_URL'] ?? 'http://localhost:3000' })
const image = (path: string, type: string, name: string) => new File([readFileSync(path)], name, { type })
const cover = image(process.env['COVER_JPEG'] ?? 'cover.jpg', 'image/jpeg', 'cover.jpg')
const newCover = image(process.env['COVER_PNG'] ?? 'cover.png', 'image/png', 'cover.png')

/** The answer's data, or a thrown error naming the step and the API's error code. */
function must<T>(step: string, result: { data?: T; error?: unknown }): T {
  if (result.data === undefined) throw new Error(`${step}: ${JSON.stringify(result.error)}`)
  return result.data
}
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` })

const username = `writer${Date.now()}`
const password = 'correct horse battery'
must('register', await register({ body: { username, email: `${username}@example.com`, password } }))
const token = must('login', await login({ body: { username, password } }))
const headers = bearer(token.access_token)

const book = must('create a book', await createBook({ headers, body: { title: `Dune ${username}`, author: 'Frank Herbert', price: 9.99 } }))
const covered = must('give it a cover', await setBookCover({ headers, path: { id: book.id }, body: { cover } }))
if (!covered.cover) throw new Error('the book has no cover')

const found = must('list', await listBooks({ query: { search: username } }))
if (found.results[0]?.id !== book.id) throw new Error('the book is not found by search')

must('review', await createReview({ headers, path: { id: book.id }, body: { review: 'A classic.' } }))
const replaced = must('replace the cover', await setBookCover({ headers, path: { id: book.id }, body: { cover: newCover } }))
if (!replaced.cover?.endsWith('.png') || replaced.review_count !== 1) throw new Error('the cover was not replaced')
const uncovered = must('remove the cover', await deleteBookCover({ headers, path: { id: book.id } }))
if (uncovered.cover !== null) throw new Error('the cover was not removed')
const deleted = await deleteBook({ headers, path: { id: book.id } })
if (deleted.response?.status !== 204) throw new Error(`delete answered ${deleted.response?.status}`)

const adminToken = must('admin login', await login({ body: { username: process.env['ADMIN_USERNAME'] ?? 'admin', password: process.env['ADMIN_PASSWORD'] ?? '' } }))
const adminHeaders = bearer(adminToken.access_token)
const post = must('create a post', await createPost({ headers: adminHeaders, body: { title: `Hello from ${username}`, content: 'Posted by a generated client.', is_published: true } }))
const pictured = must('give it an image', await setPostImage({ headers: adminHeaders, path: { id: post.id }, body: { image: cover } }))
if (!pictured.image) throw new Error('the post has no image')

console.log(JSON.stringify({ book: book.id, post: post.id, done: true }))
