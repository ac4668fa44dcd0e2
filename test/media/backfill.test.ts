import t from 'tap'
import { eq } from 'drizzle-orm'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { books, posts } from '../../src/db/schema.js'
import { backfillImageInfo } from '../../src/media/backfill.js'
import { readBack } from '../../src/media/check.js'
import { buildTestAppWithConfig, createTestUser } from '../helpers/app.js'
import { client } from '../helpers/http.js'
import * as images from '../helpers/images.js'
import { startS3Server } from '../helpers/s3.js'

t.test('media:backfill gives old images their info and the variants they were stored without', async (t) => {
  const s3 = await startS3Server(t)
  // The first start makes no variants; a book and a post are stored then.
  const { app: before, config } = await buildTestAppWithConfig(t, { ...s3.env, MEDIA_VARIANT_WIDTHS: '' })
  const user = await createTestUser(before, { admin: true })
  const http = client(before)
  const book = (await http.form('POST', '/api/v1/books', [{ name: 'title', value: 'Old' }, { name: 'author', value: 'A' }, { name: 'price', value: '1' }, { name: 'cover', file: await images.jpeg(1400, 900) }], user)).json()
  const post = (await http.form('POST', '/api/v1/posts', [{ name: 'title', value: 'Old post' }, { name: 'content', value: 'x' }, { name: 'image', file: await images.png(700, 400) }], user)).json()
  t.same(book.cover_info.variants, [])
  // A row from before the service kept any info at all, and one whose object is gone.
  await before.db.update(posts).set({ imageInfo: null }).where(eq(posts.id, post.id))
  const lost = (await http.form('POST', '/api/v1/books', [{ name: 'title', value: 'Lost' }, { name: 'author', value: 'A' }, { name: 'price', value: '1' }, { name: 'cover', file: await images.jpeg(800, 600) }], user)).json()
  await before.media.store.delete(lost.cover.split('/').slice(-2).join('/'))
  await before.db.update(books).set({ coverInfo: null }).where(eq(books.id, lost.id))

  // The second start makes the default variants.
  const variantsOn = { ...config, media: { ...config.media, variants: loadConfig({}).media.variants } }
  const after = await buildApp(variantsOn, process.env.TEST_DATABASE_URL ? {} : { database: before.database })
  t.teardown(() => after.close())
  await after.ready()
  const run = () => backfillImageInfo(after.media.context(), (name) => readBack(after.media.store, variantsOn.media, name), { smallestWidth: 320, batchSize: 1 })

  const first = await run()
  t.match(first, { filled: 2, skipped: 0, unchanged: 0 })
  t.match(first.failed, [{ name: lost.cover.split('/').slice(-2).join('/') }], 'the image that cannot be read is reported, and left as it was')
  const backfilled = (await client(after).get(`/api/v1/books/${book.id}`)).json()
  t.same(backfilled.cover, book.cover, 'the original is kept')
  t.match(backfilled.cover_info, { width: 1400, height: 900, bytes: book.cover_info.bytes })
  t.same(backfilled.cover_info.variants.map((v: { width: number }) => v.width), [320, 640, 1280])
  const pictured = (await client(after).get(`/api/v1/posts/${post.id}`, user)).json()
  t.match(pictured.image_info, { width: 700, height: 400, content_type: 'image/png' })
  t.same(pictured.image_info.variants.map((v: { width: number }) => v.width), [320, 640])
  t.equal((await client(after).get(`/api/v1/books/${lost.id}`)).json().cover_info, null)

  const keys = (await s3.keys()).filter((key) => !key.includes('.readiness')).sort()
  const named = [book.cover, ...backfilled.cover_info.variants.map((v: { url: string }) => v.url), post.image, ...pictured.image_info.variants.map((v: { url: string }) => v.url)]
  t.same(keys, named.map((url: string) => `media/${url.split('/').slice(-2).join('/')}`).sort(), 'the bucket holds every named object and nothing else')

  const second = await run()
  t.match(second, { filled: 0, skipped: 0 }, 'a second run has nothing left to do but the unreadable image')
  t.equal(second.failed.length, 1)
  t.same((await s3.keys()).filter((key) => !key.includes('.readiness')).sort(), keys, 'and changes nothing')

  // A row that changes while its image is worked on is left to its new image.
  await after.db.update(posts).set({ imageInfo: null }).where(eq(posts.id, post.id))
  const racing = backfillImageInfo(
    { ...after.media.context(), normalize: async (bytes) => {
      const image = await after.media.normalize(bytes)
      await after.db.update(posts).set({ image: null, imageInfo: null }).where(eq(posts.id, post.id))
      return image
    } },
    (name) => readBack(after.media.store, variantsOn.media, name),
    { smallestWidth: 320 }
  )
  t.match(await racing, { filled: 0, skipped: 1 })
  const left = (await s3.keys()).filter((key) => key.includes('post_images/'))
  t.same(left, [`media/${post.image.split('/').slice(-2).join('/')}`], 'the variants made for it are deleted again')
})
