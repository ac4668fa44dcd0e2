import { Readable } from 'node:stream'
import t from 'tap'
import sharp from 'sharp'
import { normalizeImage, readLimited } from '../../src/media/image.js'
import * as images from '../helpers/images.js'

const limits = { maxBytes: 10 * 1024 * 1024, maxPixels: 40_000_000, maxSide: 12_000, processTimeoutMs: 5000 }

t.test('each accepted format is re-encoded as itself', async (t) => {
  const cases: Array<[string, () => Promise<Buffer>, string, string]> = [
    ['jpeg', () => images.jpeg(), 'image/jpeg', 'jpg'],
    ['png', () => images.png(), 'image/png', 'png'],
    ['webp', images.webp, 'image/webp', 'webp'],
    ['avif', images.avif, 'image/avif', 'avif']
  ]
  for (const [name, make, contentType, extension] of cases) {
    const input = await make()
    const result = await normalizeImage(input, limits)
    t.equal(result.contentType, contentType, name)
    t.equal(result.extension, extension, name)
    t.ok(result.width > 0 && result.height > 0, name)
    t.equal((await sharp(result.data).metadata()).format, name === 'jpeg' ? 'jpeg' : name === 'avif' ? 'heif' : name)
  }
})

t.test('animated GIF and WebP keep their frames', async (t) => {
  for (const make of [images.animatedGif, images.animatedWebp]) {
    const result = await normalizeImage(await make(), limits)
    const metadata = await sharp(result.data, { animated: true }).metadata()
    t.equal(metadata.pages, 3, result.contentType)
    t.equal(result.height, 12, 'height is one frame')
    t.equal(result.width, 16)
  }
})

t.test('photos are turned upright and lose every piece of metadata', async (t) => {
  const input = await images.jpegWithGpsAndOrientation()
  const before = await sharp(input).metadata()
  t.equal(before.orientation, 6)
  t.ok(before.exif, 'the input carries EXIF (GPS, artist)')

  const result = await normalizeImage(input, limits)
  const after = await sharp(result.data).metadata()
  t.equal(after.exif, undefined, 'no EXIF')
  t.equal(after.xmp, undefined, 'no XMP')
  t.equal(after.icc, undefined, 'no ICC profile')
  t.equal(after.orientation, undefined, 'no orientation tag left to apply twice')
  t.equal(after.space, 'srgb')
  t.same([result.width, result.height], [20, 40], 'rotated: 40x20 landscape became 20x40 portrait')
  t.notOk(result.data.includes('Secret Name'))
  // Orientation 6 turns the left (red) half to the top.
  const { data } = await sharp(result.data).raw().toBuffer({ resolveWithObject: true })
  t.ok(data[0]! > 200 && data[2]! < 60, 'the top-left pixel is red')
})

t.test('hostile files get their documented answers', async (t) => {
  const cases: Array<[string, () => Buffer | Promise<Buffer>, number, string]> = [
    ['text named .jpg', images.hostile.textNamedJpg, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['SVG with a script', images.hostile.svgWithScript, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['HTML', images.hostile.html, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['truncated JPEG', images.hostile.truncatedJpeg, 422, 'INVALID_IMAGE'],
    ['pixel bomb', images.hostile.pixelBomb, 422, 'IMAGE_TOO_LARGE'],
    ['empty file', () => Buffer.alloc(0), 415, 'UNSUPPORTED_MEDIA_TYPE']
  ]
  for (const [name, make, statusCode, code] of cases) {
    await t.rejects(normalizeImage(await make(), limits), { statusCode, code }, name)
  }
})

t.test('the pixel limit counts every frame and is checked before decoding', async (t) => {
  const gif = await images.animatedGif() // 16 x 12 x 3 frames = 576 pixels
  await t.rejects(normalizeImage(gif, { ...limits, maxPixels: 575 }), { code: 'IMAGE_TOO_LARGE' })
  t.ok(await normalizeImage(gif, { ...limits, maxPixels: 576 }))
})

t.test('a polyglot is re-encoded and loses its script', async (t) => {
  const input = await images.hostile.gifPolyglot()
  t.ok(input.includes(images.SCRIPT))
  const result = await normalizeImage(input, limits)
  t.equal(result.contentType, 'image/gif')
  t.notOk(result.data.includes('script'), 'no script text in the stored bytes')
})

t.test('uploads are counted as they arrive and cut at the limit', async (t) => {
  const exactly = await readLimited(Readable.from([Buffer.alloc(600), Buffer.alloc(424)]), 1024)
  t.equal(exactly.length, 1024)
  let pulled = 0
  const endless = new Readable({
    read() {
      pulled += 1
      this.push(Buffer.alloc(512))
    }
  })
  await t.rejects(readLimited(endless, 1024), { statusCode: 413, code: 'FILE_TOO_LARGE' })
  // Without a declared length the buffer grows as the bytes arrive, and keeps their order.
  const pieces = [Buffer.alloc(50_000, 1), Buffer.alloc(50_000, 2), Buffer.alloc(50_000, 3)]
  const grown = await readLimited(Readable.from(pieces), 1 << 20)
  t.ok(grown.equals(Buffer.concat(pieces)), 'a file larger than the first guess arrives whole')
  t.ok(pulled <= 4, 'stopped reading right after the limit')
  t.ok(endless.destroyed)
  await t.rejects(normalizeImage(Buffer.alloc(1025), { ...limits, maxBytes: 1024 }), { code: 'FILE_TOO_LARGE' })
})
