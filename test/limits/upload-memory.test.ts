import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { request } from 'node:http'
import t from 'tap'
import sharp from 'sharp'
import { TEST_SECRET } from '../helpers/app.js'
import { testStorage } from '../helpers/database.js'
import { multipart } from '../helpers/multipart.js'
import { startServer } from '../helpers/process.js'

/** The peak resident memory of a process (`VmHWM`), in MiB. */
function peakRssMb(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(match![1]) / 1024
}

interface Answer {
  status: number
  retryAfter: string | null
  body: { code?: string }
}

/**
 * A POST that reads the answer as soon as it comes, as curl and browsers do: a refusal
 * arrives before the body is sent, and the server then closes the connection, so the
 * rest of the body fails to write. Node 24's fetch reports only that write error.
 */
function post(url: string, headers: Record<string, string>, body: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let answered = false
    const outgoing = request(url, { method: 'POST', headers: { ...headers, 'content-length': String(body.length) } }, (response) => {
      answered = true
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => (text += chunk))
      response.on('end', () => resolve({ status: response.statusCode ?? 0, retryAfter: String(response.headers['retry-after'] ?? '') || null, body: JSON.parse(text) as { code?: string } }))
      response.on('error', reject)
    })
    outgoing.on('error', (error) => {
      if (!answered) reject(error)
    })
    outgoing.end(body)
  })
}

/** An 8.6 MB PNG of noise: it does not compress, so every byte of it is read and decoded. */
const noisePng = () => sharp(randomBytes(1640 * 1640 * 3), { raw: { width: 1640, height: 1640, channels: 3 } }).png({ compressionLevel: 1 }).toBuffer()

t.test('200 concurrent 8.6 MB uploads keep the server under 1 GiB: those beyond the budget are refused unread', async (t) => {
  const storage = await testStorage(t, 'upload-memory')
  // The defaults, behind a proxy that names each client, so the budget (not the per-address cap) decides.
  const server = await startServer({ ...storage.env, JWT_SECRET: TEST_SECRET, TRUST_PROXY: 'true', MEDIA_RETRY_INTERVAL_MS: '0' })
  t.teardown(() => server.stop())
  const api = (path: string, init?: RequestInit) => fetch(`${server.url}/api/v1${path}`, init)
  const json = (body: object) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  t.equal((await api('/auth/register', json({ username: 'mallory', email: 'm@example.com', password: 'mallory password' }))).status, 201)
  const { access_token: token } = (await (await api('/auth/login', json({ username: 'mallory', password: 'mallory password' }))).json()) as { access_token: string }

  const image = await noisePng()
  t.ok(image.length > 8.5e6, `the upload is ${(image.length / 1e6).toFixed(1)} MB`)
  const form = multipart([{ name: 'title', value: 'Noise' }, { name: 'author', value: 'Nobody' }, { name: 'price', value: '1' }, { name: 'cover', file: image, filename: 'noise.png', contentType: 'image/png' }])
  const before = peakRssMb(server.child.pid!)

  const answers = await Promise.all(
    Array.from({ length: 200 }, (_, i) =>
      post(`${server.url}/api/v1/books`, { ...form.headers, authorization: `Bearer ${token}`, 'x-forwarded-for': `10.0.${i >> 8}.${i & 255}` }, form.payload)
    )
  )
  const peak = peakRssMb(server.child.pid!)
  const created = answers.filter((a) => a.status === 201).length
  const busy = answers.filter((a) => a.status === 503)
  t.comment(`peak RSS ${peak.toFixed(0)} MiB (${before.toFixed(0)} MiB before); ${created} created, ${busy.length} refused`)
  t.ok(peak < 1024, `peak RSS ${peak.toFixed(0)} MiB stays under 1 GiB`)
  t.ok(created > 0, 'uploads within the budget are processed')
  t.equal(created + busy.length, 200, 'every other upload is refused, none fails')
  t.ok(busy.length > 0, 'uploads beyond the budget are refused')
  t.ok(busy.every((a) => a.body.code === 'SERVER_BUSY' && a.retryAfter !== null), 'with 503 SERVER_BUSY and Retry-After')

  const stored = (await (await api('/books?page_size=100')).json()) as { count: number }
  t.equal(stored.count, created, 'each created answer is a book, and no refused one left a row')
})
