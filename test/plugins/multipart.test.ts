import { readdirSync, writeFileSync } from 'node:fs'
import t, { type Test } from 'tap'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { writeFileField } from '../../src/media/lifecycle.js'
import { FileField, writeBody } from '../../src/plugins/forms.js'
import { buildTestAppWithConfig } from '../helpers/app.js'
import * as images from '../helpers/images.js'
import { multipart, type Part } from '../helpers/multipart.js'
import { startS3Server } from '../helpers/s3.js'
import { localNames } from '../helpers/stores.js'

const MAX_BYTES = 64 * 1024

/** A write route shaped like the real ones: a form or JSON, an optional image, one row write. */
function addUploadRoute(app: FastifyInstance) {
  const fields = Type.Object({ title: Type.String({ minLength: 1, maxLength: 20 }), published: Type.Optional(Type.Boolean()) })
  app.withTypeProvider<TypeBoxTypeProvider>().post('/upload', {
    schema: { body: writeBody(fields, { image: FileField('An image') }, 'UploadTest') },
    handler: async (request) => {
      const { image, ...body } = request.body
      const answer = { log: request.log, answer: async (_tx: unknown, name: string | null) => name }
      const name = await writeFileField(app.media.context(), answer, { upload: image, folder: 'post_images' }, async (_tx, name) => {
        if (body.title === 'conflict') throw Object.assign(new Error('duplicate key'), { code: '23505' })
        return { result: name ?? null }
      })
      return { ...body, image: app.media.url(name) }
    }
  })
}

async function checks(t: Test, app: FastifyInstance, storedNames: () => Promise<string[]>) {
  const stored: string[] = []
  const post = (parts: Part[]) => app.inject({ method: 'POST', url: '/upload', ...multipart(parts) })
  const jpeg = await images.jpeg()

  await t.test('fields and file in any order give the same result', async (t) => {
    for (const parts of [
      [{ name: 'title', value: 'Hello' }, { name: 'published', value: 'true' }, { name: 'image', file: jpeg, filename: 'a.jpg' }],
      [{ name: 'image', file: jpeg, filename: 'a.jpg' }, { name: 'published', value: 'true' }, { name: 'title', value: 'Hello' }]
    ]) {
      const res = await post(parts)
      t.equal(res.statusCode, 200, res.body)
      const body = res.json()
      t.match(body, { title: 'Hello', published: true, image: /\/post_images\/[0-9a-f-]{36}\.jpg$/ })
      stored.push(body.image.split('/').slice(-2).join('/'))
    }
  })

  await t.test('a form boolean outside true/false/1/0/on/off is refused, naming the choices', async (t) => {
    const res = await post([{ name: 'title', value: 'Hello' }, { name: 'published', value: 'yes' }])
    t.equal(res.statusCode, 400)
    t.match(res.json(), { code: 'VALIDATION_ERROR', message: 'body/published must be a boolean: true, false, 1, 0, on, off' })
  })

  await t.test('a JSON body goes through the same schema', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/upload', payload: { title: 'Hello', published: true } })
    t.same(res.json(), { title: 'Hello', published: true, image: null })
    const empty = await post([{ name: 'title', value: 'Hello' }, { name: 'image', value: '' }])
    t.same(empty.json(), { title: 'Hello', image: null }, 'an empty image field means "no image"')
    const blank = await post([{ name: 'title', value: 'Hello' }, { name: 'image', file: Buffer.alloc(0), filename: '' }])
    t.same(blank.json(), { title: 'Hello', image: null }, 'so does an empty file input')
    for (const removal of ['', 0, false]) {
      const res = await app.inject({ method: 'POST', url: '/upload', payload: { title: 'Hello', image: removal } })
      t.same(res.json(), { title: 'Hello', image: null }, `JSON ${JSON.stringify(removal)} in a file field removes the file, like null`)
    }
    const object = await app.inject({ method: 'POST', url: '/upload', payload: { title: 'Hello', image: { bytes: 'x' } } })
    t.match(object.json(), { statusCode: 400, message: 'body/image must be a file upload, or empty (null in JSON) to remove it' }, 'JSON cannot pass for a file')
  })

  await t.test('the client file name never reaches the key', async (t) => {
    const res = await post([{ name: 'title', value: 'Traversal' }, { name: 'image', file: jpeg, filename: '../../../etc/passwd.jpg', contentType: 'image/png' }])
    t.equal(res.statusCode, 200)
    t.notMatch(res.json().image, /passwd|\.\./)
    stored.push(res.json().image.split('/').slice(-2).join('/'))
  })

  const refusals: Array<[string, Part[], number, string]> = [
    ['unknown file field', [{ name: 'title', value: 'x' }, { name: 'avatar', file: jpeg }], 400, 'UNKNOWN_FILE_FIELD'],
    ['two files for one field', [{ name: 'title', value: 'x' }, { name: 'image', file: jpeg }, { name: 'image', file: jpeg }], 400, 'DUPLICATE_FIELD'],
    ['a text field twice', [{ name: 'title', value: 'x' }, { name: 'title', value: 'y' }], 400, 'DUPLICATE_FIELD'],
    ['too many parts', Array.from({ length: 60 }, (_, i) => ({ name: `f${i}`, value: 'x' })), 413, 'TOO_MANY_PARTS'],
    ['an oversized text field', [{ name: 'title', value: 'x'.repeat(1024 * 1024 + 1) }], 413, 'FIELD_TOO_LARGE'],
    ['a file one byte over the limit', [{ name: 'title', value: 'x' }, { name: 'image', file: Buffer.concat([jpeg, Buffer.alloc(MAX_BYTES + 1 - jpeg.length)]) }], 413, 'FILE_TOO_LARGE'],
    ['a field failing the schema', [{ name: 'title', value: '' }, { name: 'image', file: jpeg }], 400, 'VALIDATION_ERROR'],
    ['a missing required field', [{ name: 'image', file: jpeg }], 400, 'VALIDATION_ERROR'],
    ['text named .jpg', [{ name: 'title', value: 'x' }, { name: 'image', file: images.hostile.textNamedJpg(), filename: 'photo.jpg', contentType: 'image/jpeg' }], 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['SVG with a script', [{ name: 'title', value: 'x' }, { name: 'image', file: images.hostile.svgWithScript(), filename: 'a.svg' }], 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['HTML declared as PNG', [{ name: 'title', value: 'x' }, { name: 'image', file: images.hostile.html(), contentType: 'image/png' }], 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['a truncated JPEG', [{ name: 'title', value: 'x' }, { name: 'image', file: await images.hostile.truncatedJpeg() }], 422, 'INVALID_IMAGE'],
    ['a pixel bomb', [{ name: 'title', value: 'x' }, { name: 'image', file: images.hostile.pixelBomb() }], 422, 'IMAGE_TOO_LARGE'],
    ['a database conflict after the upload', [{ name: 'title', value: 'conflict' }, { name: 'image', file: jpeg }], 500, 'INTERNAL_ERROR']
  ]
  for (const [name, parts, status, code] of refusals) {
    await t.test(name, async (t) => {
      const res = await post(parts)
      t.equal(res.statusCode, status, res.body)
      t.equal(res.json().code, code)
    })
  }

  await t.test('a polyglot is stored re-encoded, without its script', async (t) => {
    const res = await post([{ name: 'title', value: 'Polyglot' }, { name: 'image', file: await images.hostile.gifPolyglot(), filename: 'x.gif' }])
    t.equal(res.statusCode, 200)
    const name = res.json().image.split('/').slice(-2).join('/')
    stored.push(name)
    t.match(name, /\.gif$/)
  })

  await t.test('malformed multipart bodies are 400, never a crash', async (t) => {
    const headers = { 'content-type': 'multipart/form-data; boundary=abc' }
    for (const payload of ['--abc\r\nContent-Disposition: form-data; name="title"\r\n\r\nunterminated', 'not multipart at all', '--abc\r\ngarbage\r\n\r\n--abc--']) {
      const res = await app.inject({ method: 'POST', url: '/upload', headers, payload })
      t.ok([400].includes(res.statusCode), `${res.statusCode} ${res.body}`)
      t.match(res.json().code, /INVALID_MULTIPART|VALIDATION_ERROR/)
    }
    const noBoundary = await app.inject({ method: 'POST', url: '/upload', headers: { 'content-type': 'multipart/form-data' }, payload: 'x' })
    t.equal(noBoundary.statusCode, 400)
  })

  await t.test('afterwards the store holds exactly the accepted uploads', async (t) => {
    t.same(await storedNames(), stored.sort())
  })
}

t.test('multipart uploads on the local store', async (t) => {
  const { app, config } = await buildTestAppWithConfig(t, { MEDIA_MAX_BYTES: String(MAX_BYTES) }, { beforeReady: addUploadRoute })
  const folder = `${config.media.root}/media/post_images`
  await checks(t, app, async () => localNames(`${config.media.root}/media`))

  await t.test('stored files are served with their type and locked-down headers', async (t) => {
    const [file] = readdirSync(folder).filter((f) => f.endsWith('.jpg'))
    const res = await app.inject({ url: `/media/post_images/${file}` })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['content-type'], 'image/jpeg')
    t.equal(res.headers['x-content-type-options'], 'nosniff')
    t.match(res.headers['content-security-policy'], /default-src 'none'/)
    t.match(res.headers['cache-control'], /immutable/)
    t.equal(res.headers['cross-origin-resource-policy'], 'cross-origin', 'other origins may embed it')
    writeFileSync(`${config.dataDir}/secret.txt`, 'TOP-SECRET-CONTENT')
    // The served folder is {dataDir}/media-root/media: the secret is two levels up.
    for (const url of ['/media/../../secret.txt', '/media/%2e%2e/%2e%2e/secret.txt', '/media/..%2f..%2fsecret.txt', '/media/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/media/post_images/', '/media/.env']) {
      const bad = await app.inject({ url })
      t.ok([403, 404].includes(bad.statusCode), `${url} -> ${bad.statusCode}`)
      t.match(bad.json().code, /^(FORBIDDEN|NOT_FOUND)$/)
      t.notMatch(bad.body, /root:x:0/)
      t.notMatch(bad.body, /TOP-SECRET-CONTENT/)
    }
  })
})

t.test('multipart uploads on S3', async (t) => {
  const s3 = await startS3Server(t)
  const { app } = await buildTestAppWithConfig(t, { ...s3.env, MEDIA_MAX_BYTES: String(MAX_BYTES) }, { beforeReady: addUploadRoute })
  await checks(t, app, async () => (await s3.keys()).map((key) => key.replace(/^media\//, '')))
})
