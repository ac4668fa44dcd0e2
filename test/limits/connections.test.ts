import { connect, type Socket } from 'node:net'
import { once } from 'node:events'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, createTestUser } from '../helpers/app.js'
import { listenLocally } from '../helpers/http.js'
import { jpeg } from '../helpers/images.js'
import { multipart } from '../helpers/multipart.js'

const listen = async (app: FastifyInstance) => Number(new URL(await listenLocally(app)).port)

/** A raw connection: everything it receives, and when it was closed. */
function rawConnection(port: number) {
  const socket = connect(port, '127.0.0.1')
  const received = { text: '', closedAt: 0 }
  socket.on('data', (chunk: Buffer) => (received.text += chunk.toString()))
  socket.on('error', () => {})
  socket.on('close', () => (received.closedAt = Date.now()))
  return { socket, received, closed: once(socket, 'close') }
}

/** Sends `body` at about `bytesPerSecond`, in small pieces, until it is sent or the socket closes. */
function drip(socket: Socket, body: Buffer, bytesPerSecond: number) {
  let sent = 0
  const timer = setInterval(() => {
    if (socket.destroyed || sent >= body.length) return clearInterval(timer)
    socket.write(body.subarray(sent, sent + Math.ceil(bytesPerSecond / 10)))
    sent += Math.ceil(bytesPerSecond / 10)
  }, 100)
  socket.once('close', () => clearInterval(timer))
}

async function waitFor(condition: () => boolean) {
  const deadline = Date.now() + 15_000
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for an answer')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

const statusOf = (text: string) => Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1])

t.test('bodies dripping slower than the floor rate are answered 408 and closed, uploads and JSON alike', async (t) => {
  // A budget of one upload: a dripping upload that kept its share would shut every other out.
  const app = await buildTestApp(t, { BODY_MIN_BYTES_PER_SECOND: '1000', MEDIA_MEMORY_BUDGET_MB: '16', MEDIA_MAX_BYTES: '16777216' })
  const port = await listen(app)
  const user = await createTestUser(app)
  const form = multipart([{ name: 'title', value: 'Slow' }, { name: 'author', value: 'Drip' }, { name: 'price', value: '1' }, { name: 'cover', file: await jpeg(), filename: 'c.jpg' }])
  const register = Buffer.from(JSON.stringify({ username: 'dripper', email: 'd@example.com', password: 'drip password' }))

  const started = Date.now()
  const upload = rawConnection(port)
  // It announces 16 MiB, so it is admitted with the whole budget as its share.
  upload.socket.write(`POST /api/v1/books HTTP/1.1\r\nHost: x\r\nAuthorization: ${user.auth.authorization}\r\nContent-Type: ${form.headers['content-type']}\r\nContent-Length: ${16 * 1024 * 1024}\r\n\r\n`)
  drip(upload.socket, form.payload, 10)
  const json = rawConnection(port)
  json.socket.write(`POST /api/v1/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${register.length}\r\n\r\n`)
  drip(json.socket, register, 10)

  // While the upload drips, it holds the whole budget.
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const meanwhile = await app.inject({ method: 'POST', url: '/api/v1/books', ...withAuth(form, user.auth.authorization) })
  t.equal(meanwhile.json().code, 'SERVER_BUSY', 'the dripping upload holds its share of the budget')

  await Promise.all([upload.closed, json.closed])
  for (const [name, connection] of [['upload', upload], ['JSON body', json]] as const) {
    t.equal(statusOf(connection.received.text), 408, `the dripping ${name} is answered 408`)
    t.match(connection.received.text, /"code":"REQUEST_TIMEOUT"/)
    t.ok(connection.received.closedAt - started < 10_000, `and closed within seconds (${connection.received.closedAt - started} ms)`)
  }
  const after = await app.inject({ method: 'POST', url: '/api/v1/books', ...withAuth(form, user.auth.authorization) })
  t.equal(after.statusCode, 201, 'its share of the budget is back')
  t.equal((await app.inject({ url: '/api/v1/books' })).json().count, 1, 'nothing of the cut upload was stored')
})

const withAuth = (form: ReturnType<typeof multipart>, authorization: string) => ({ payload: form.payload, headers: { ...form.headers, authorization } })

t.test('headers, whole requests and idle keep-alive connections have deadlines', async (t) => {
  const app = await buildTestApp(t, { HEADERS_TIMEOUT_MS: '1000', REQUEST_TIMEOUT_MS: '2000', KEEP_ALIVE_TIMEOUT_MS: '1000', BODY_MIN_BYTES_PER_SECOND: '0' })
  const port = await listen(app)

  const slowHeaders = rawConnection(port)
  slowHeaders.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n')
  await slowHeaders.closed
  t.equal(statusOf(slowHeaders.received.text), 408, 'headers that never end: 408')

  const slowBody = rawConnection(port)
  slowBody.socket.write('POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"user')
  await slowBody.closed
  t.equal(statusOf(slowBody.received.text), 408, 'a body that never ends: 408 once REQUEST_TIMEOUT_MS passes')
  t.match(slowBody.received.text, /"code":"REQUEST_TIMEOUT"/)

  const idle = rawConnection(port)
  idle.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
  const opened = Date.now()
  await idle.closed
  t.equal(statusOf(idle.received.text), 200, 'a keep-alive connection is answered')
  t.ok(Date.now() - opened < 5000, 'and closed once idle for KEEP_ALIVE_TIMEOUT_MS')
})

t.test('per-address concurrent uploads are capped: 429 TOO_MANY_UPLOADS, other addresses unaffected', async (t) => {
  const app = await buildTestApp(t, { MEDIA_UPLOADS_PER_ADDRESS: '2', TRUST_PROXY: 'true' })
  const port = await listen(app)
  const user = await createTestUser(app)
  const form = multipart([{ name: 'title', value: 'Held' }, { name: 'author', value: 'Open' }, { name: 'price', value: '1' }, { name: 'cover', file: await jpeg(), filename: 'c.jpg' }])
  const head = (address: string) =>
    `POST /api/v1/books HTTP/1.1\r\nHost: x\r\nAuthorization: ${user.auth.authorization}\r\nX-Forwarded-For: ${address}\r\nContent-Type: ${form.headers['content-type']}\r\nContent-Length: ${form.payload.length}\r\n\r\n`
  // Two uploads from one address that have sent their headers and half of their body.
  const held = [rawConnection(port), rawConnection(port)]
  for (const connection of held) connection.socket.write(head('192.0.2.1') + form.payload.subarray(0, 100).toString('latin1'))
  await new Promise((resolve) => setTimeout(resolve, 300))

  const third = await app.inject({ method: 'POST', url: '/api/v1/books', payload: form.payload, headers: { ...form.headers, authorization: user.auth.authorization, 'x-forwarded-for': '192.0.2.1' } })
  t.equal(third.statusCode, 429)
  t.equal(third.json().code, 'TOO_MANY_UPLOADS')
  t.ok(third.headers['retry-after'])
  const other = await app.inject({ method: 'POST', url: '/api/v1/books', payload: form.payload, headers: { ...form.headers, authorization: user.auth.authorization, 'x-forwarded-for': '192.0.2.2' } })
  t.equal(other.statusCode, 201, 'another address still uploads')

  for (const connection of held) connection.socket.write(form.payload.subarray(100))
  await waitFor(() => held.every((connection) => connection.received.text !== ''))
  t.same(held.map((connection) => statusOf(connection.received.text)), [201, 201], 'the held uploads finish')
  const again = await app.inject({ method: 'POST', url: '/api/v1/books', payload: form.payload, headers: { ...form.headers, authorization: user.auth.authorization, 'x-forwarded-for': '192.0.2.1' } })
  t.equal(again.statusCode, 201, 'and give their places back')
})

t.test('a form declaring more than a form may hold is 413 at once, before a byte of it is read', async (t) => {
  const app = await buildTestApp(t, { MEDIA_MAX_BYTES: '1048576' })
  const port = await listen(app)
  const user = await createTestUser(app)
  const connection = rawConnection(port)
  connection.socket.write(`POST /api/v1/books HTTP/1.1\r\nHost: x\r\nAuthorization: ${user.auth.authorization}\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: ${50 * 1024 * 1024}\r\n\r\n`)
  await waitFor(() => connection.received.text.includes('}'))
  t.equal(statusOf(connection.received.text), 413)
  t.match(connection.received.text, /"code":"BODY_TOO_LARGE"/)
  connection.socket.destroy()
})

t.test('a client that waits for 100 Continue sends its upload only once it is admitted', async (t) => {
  const app = await buildTestApp(t, { MEDIA_MEMORY_BUDGET_MB: '16', MEDIA_MAX_BYTES: '16777216', BODY_MIN_BYTES_PER_SECOND: '0' })
  const port = await listen(app)
  const user = await createTestUser(app)
  const form = multipart([{ name: 'title', value: 'Asked' }, { name: 'author', value: 'First' }, { name: 'price', value: '1' }, { name: 'cover', file: await jpeg(), filename: 'c.jpg' }])
  const head = (length: number) =>
    `POST /api/v1/books HTTP/1.1\r\nHost: x\r\nAuthorization: ${user.auth.authorization}\r\nContent-Type: ${form.headers['content-type']}\r\nContent-Length: ${length}\r\nExpect: 100-continue\r\n\r\n`

  const admitted = rawConnection(port)
  admitted.socket.write(head(form.payload.length))
  await waitFor(() => admitted.received.text.includes('100 Continue'))
  t.match(admitted.received.text, /^HTTP\/1\.1 100 Continue\r\n/, 'an admitted upload is told to go on')

  // This one announces the rest of the budget and holds it while it waits.
  const holder = rawConnection(port)
  holder.socket.write(head(16 * 1024 * 1024 - form.payload.length - 10))
  await waitFor(() => holder.received.text.includes('100 Continue'))
  const refused = rawConnection(port)
  refused.socket.write(head(form.payload.length))
  await refused.closed
  t.equal(statusOf(refused.received.text), 503, 'one that does not fit is answered at once, never told to go on')
  t.match(refused.received.text, /"code":"SERVER_BUSY"/)
  t.notMatch(refused.received.text, /100 Continue/)

  const anonymous = rawConnection(port)
  anonymous.socket.write(head(form.payload.length).replace(/Authorization: [^\r]+\r\n/, ''))
  await anonymous.closed
  t.equal(statusOf(anonymous.received.text), 401, 'nor is an upload without credentials')

  holder.socket.destroy()
  admitted.socket.write(form.payload)
  await waitFor(() => /HTTP\/1\.1 201/.test(admitted.received.text))
  t.pass('the admitted upload is created')
  admitted.socket.destroy()

  const json = rawConnection(port)
  const body = JSON.stringify({ username: 'asker', email: 'asker@example.com', password: 'long enough password' })
  json.socket.write(`POST /api/v1/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`)
  await waitFor(() => json.received.text.includes('100 Continue'))
  json.socket.write(body)
  await waitFor(() => /HTTP\/1\.1 201/.test(json.received.text))
  t.pass('a JSON body is told to go on at once')
  json.socket.destroy()
})
