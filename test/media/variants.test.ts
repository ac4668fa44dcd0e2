import t from 'tap'
import sharp from 'sharp'
import { createTestUser } from '../helpers/app.js'
import { client, listenLocally } from '../helpers/http.js'
import * as images from '../helpers/images.js'
import { appWithStore, nameOf } from '../helpers/stores.js'

interface Variant {
  url: string
  width: number
  height: number
  content_type: string
}
interface ImageInfo {
  width: number
  height: number
  content_type: string
  bytes: number
  color: string
  placeholder: string
  variants: Variant[]
  srcset: string
}

/** Every stored name an answer's image points at: the original and its variants. */
const namesOf = (url: string, info: ImageInfo) => [nameOf(url), ...info.variants.map((variant) => nameOf(variant.url))].sort()

/** What a browser would get at `url`: the answer's type and the decoded image's metadata. */
async function served(baseUrl: string, url: string) {
  // Local media are served by the app itself; its URLs name the app's PUBLIC_URL.
  const target = url.startsWith('http://localhost') ? `${baseUrl}${new URL(url).pathname}` : url
  const response = await fetch(target)
  const bytes = Buffer.from(await response.arrayBuffer())
  return { status: response.status, type: response.headers.get('content-type'), cache: response.headers.get('cache-control'), metadata: await sharp(bytes).metadata() }
}

for (const kind of ['s3', 'local'] as const) {
  t.test(`responsive images over HTTP on the ${kind} store`, async (t) => {
    const { app, names } = await appWithStore(t, kind)
    const baseUrl = await listenLocally(app)
    const user = await createTestUser(app)
    const http = client(app)
    const photo = await sharp({ create: { width: 3000, height: 2000, channels: 3, background: '#6b7f92' } }).jpeg().withMetadata({ orientation: 6 }).toBuffer()
    const fields = [{ name: 'title', value: 'Covered' }, { name: 'author', value: 'A' }, { name: 'price', value: '9.99' }]

    const created = await http.form('POST', '/api/v1/books', [...fields, { name: 'cover', file: photo, filename: 'photo.jpg' }], user)
    t.equal(created.statusCode, 201, created.body)
    const book = created.json<{ id: string; cover: string; cover_info: ImageInfo }>()
    const info = book.cover_info
    t.match(info, { width: 2000, height: 3000, content_type: 'image/jpeg', bytes: Number, color: /^#[0-9a-f]{6}$/ }, 'the original, upright')
    t.same(info.variants.map((v) => [v.width, v.height, v.content_type]), [[320, 480, 'image/webp'], [640, 960, 'image/webp'], [1280, 1920, 'image/webp'], [1920, 2880, 'image/webp']])
    for (const variant of info.variants) {
      const answer = await served(baseUrl, variant.url)
      t.match(answer, { status: 200, type: 'image/webp', metadata: { format: 'webp', width: variant.width, height: variant.height } }, `${variant.width}w is served as WebP of its size`)
      t.equal(answer.metadata.exif ?? answer.metadata.icc ?? answer.metadata.orientation, undefined, `${variant.width}w has no metadata`)
      t.match(answer.cache, /immutable/)
      t.match(nameOf(variant.url), new RegExp(`^covers/[0-9a-f-]{36}-${variant.width}w\\.webp$`), 'named beside the original')
    }
    t.equal(info.srcset, [...info.variants.map((v) => `${v.url} ${v.width}w`), `${book.cover} 2000w`].join(', '), 'srcset: every variant, then the original')
    t.ok(info.placeholder.length <= 600)
    const placeholder = await sharp(Buffer.from(info.placeholder.replace(/^data:image\/webp;base64,/, ''), 'base64')).metadata()
    t.ok(Math.max(placeholder.width ?? 99, placeholder.height ?? 99) <= 32, 'the placeholder is at most 32 px')
    t.same(await names(), namesOf(book.cover, info), 'the bucket holds the original and its four variants')
    const listed = (await http.get(`/api/v1/books?search=Covered`)).json<{ results: Array<{ cover_info: ImageInfo }> }>()
    t.same(listed.results[0]?.cover_info, info, 'lists carry the same info')

    const png = await http.form('PUT', `/api/v1/books/${book.id}/cover`, [{ name: 'cover', file: await images.png(500, 300) }], user)
    const narrow = png.json<{ cover: string; cover_info: ImageInfo }>()
    t.same(narrow.cover_info.variants.map((v) => v.width), [320], 'a 500-pixel PNG gets only the 320 variant')
    t.same(await names(), namesOf(narrow.cover, narrow.cover_info), 'replacing removes every object of the old image')

    const clash = await http.form('PUT', `/api/v1/books/${book.id}`, [...fields, { name: 'price', value: 'not a price' }, { name: 'cover', file: photo }], user)
    t.equal(clash.statusCode, 400)
    t.same(await names(), namesOf(narrow.cover, narrow.cover_info), 'a refused write stores nothing')

    t.equal((await http.delete(`/api/v1/books/${book.id}`, user)).statusCode, 204)
    t.same(await names(), [], 'deleting removes the image and every variant')
  })
}

t.test('a post whose title is taken stores none of its objects', async (t) => {
  const { app, names } = await appWithStore(t, 's3')
  const admin = await createTestUser(app, { admin: true })
  const http = client(app)
  t.equal((await http.json('POST', '/api/v1/posts', { title: 'Taken', content: 'x' }, admin)).statusCode, 201)
  const clash = await http.form('POST', '/api/v1/posts', [{ name: 'title', value: 'Taken' }, { name: 'content', value: 'x' }, { name: 'image', file: await images.jpeg(1400, 900) }], admin)
  t.match(clash.json(), { statusCode: 409, code: 'TITLE_TAKEN' })
  t.same(await names(), [], 'the image and its three variants were deleted again')
})

t.test('with variants turned off, images get their info and no variants', async (t) => {
  const { app, names } = await appWithStore(t, 's3', { MEDIA_VARIANT_WIDTHS: '' })
  const user = await createTestUser(app)
  const book = (await client(app).form('POST', '/api/v1/books', [{ name: 'title', value: 'T' }, { name: 'author', value: 'A' }, { name: 'price', value: '1' }, { name: 'cover', file: await images.jpeg(1400, 900) }], user)).json<{ cover: string; cover_info: ImageInfo }>()
  t.match(book.cover_info, { width: 1400, height: 900, variants: [], srcset: `${book.cover} 1400w` })
  t.same(await names(), [nameOf(book.cover)])
})
