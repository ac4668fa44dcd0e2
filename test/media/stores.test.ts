import { mkdtempSync, readFileSync, rmSync, existsSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { createLocalStore } from '../../src/media/local.js'
import { createS3Store } from '../../src/media/s3.js'
import { newMediaName, type MediaStore } from '../../src/media/store.js'
import { startS3Server, TEST_BUCKET } from '../helpers/s3.js'
import * as images from '../helpers/images.js'

t.test('keys are fresh, prefixed names; nothing else is ever touched', async (t) => {
  const name = newMediaName('post_images', 'jpg')
  t.match(name, /^post_images\/[0-9a-f-]{36}\.jpg$/)
  t.not(newMediaName('covers', 'png'), newMediaName('covers', 'png'))
})

const hostileNames = ['../../etc/passwd', 'post_images/../../x.jpg', '/etc/passwd', 'covers/x.jpg', 'covers/%2e%2e.jpg', '']

t.test('local store', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'media-local-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  const store = createLocalStore({ root, prefix: 'media', baseUrl: 'http://localhost:3000/media/' })
  const bytes = await images.jpeg()
  const name = newMediaName('covers', 'jpg')

  await store.put(name, bytes, 'image/jpeg')
  t.same(readFileSync(join(root, 'media', name)), bytes, 'stored at {root}/{prefix}/{name}')
  t.same(readdirSync(join(root, 'media', 'covers')), [name.split('/')[1]], 'no partial file left behind')
  t.equal(store.url(name), `http://localhost:3000/media/${name}`)
  await store.check()
  await store.delete(name)
  t.notOk(existsSync(join(root, 'media', name)))
  await store.delete(name)
  t.pass('deleting twice is fine')

  for (const bad of hostileNames) {
    await t.rejects(store.put(bad, bytes, 'image/jpeg'), /not a media name/, `put ${bad}`)
    await t.rejects(store.delete(bad), /not a media name/, `delete ${bad}`)
  }
  t.notOk(existsSync(join(root, 'x.jpg')))
})

t.test('S3 store against a real S3-protocol server', async (t) => {
  const s3 = await startS3Server(t)
  const options = { bucket: TEST_BUCKET, region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, timeoutMs: 2000, prefix: 'media', baseUrl: 'https://cdn.example.com/media/' }
  const store: MediaStore = createS3Store(options)
  const bytes = await images.png()
  const name = newMediaName('post_images', 'png')

  await store.put(name, bytes, 'image/png')
  t.same(await s3.keys(), [`media/${name}`])
  t.same(await s3.get(`media/${name}`), bytes, 'the stored bytes are exactly the body (no aws-chunked framing)')
  const head = await s3.head(`media/${name}`)
  t.equal(head.contentType, 'image/png')
  t.equal(head.cacheControl, 'public, max-age=31536000, immutable')
  t.equal(store.url(name), `https://cdn.example.com/media/${name}`)
  await store.check()
  t.same(await s3.keys(), [`media/${name}`], 'the readiness probe leaves nothing behind')

  await store.delete(name)
  t.same(await s3.keys(), [])
  for (const bad of hostileNames) await t.rejects(store.put(bad, bytes, 'image/png'), /not a media name/)

  await t.test('wrong credentials are refused', async (t) => {
    process.env.AWS_ACCESS_KEY_ID = 'WRONGKEY'
    t.teardown(() => (process.env.AWS_ACCESS_KEY_ID = 'S3RVER'))
    const wrong = createS3Store(options)
    await t.rejects(wrong.check())
    await t.rejects(wrong.put(newMediaName('covers', 'png'), bytes, 'image/png'))
    t.same(await s3.keys(), [])
  })

  await t.test('a store that is down fails fast, and works again when it is back', async (t) => {
    await s3.stop()
    const started = Date.now()
    await t.rejects(store.put(newMediaName('covers', 'png'), bytes, 'image/png'))
    await t.rejects(store.check())
    t.ok(Date.now() - started < 10_000, 'bounded by the configured timeouts')
    await s3.start()
    await store.check()
    const again = newMediaName('covers', 'png')
    await store.put(again, bytes, 'image/png')
    t.same(await s3.keys(), [`media/${again}`])
  })
})
