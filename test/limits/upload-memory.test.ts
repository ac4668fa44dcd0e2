import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
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
    Array.from({ length: 200 }, async (_, i) => {
      const response = await api('/books', {
        method: 'POST',
        headers: { ...form.headers, authorization: `Bearer ${token}`, 'x-forwarded-for': `10.0.${i >> 8}.${i & 255}` },
        body: form.payload
      })
      return { status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as { code?: string } }
    })
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
