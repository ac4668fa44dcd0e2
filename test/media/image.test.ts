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

const DEFAULT_VARIANTS = { widths: [320, 640, 1280, 1920], format: 'webp' as const }

/** Decodes a placeholder data URL back into its image. */
async function placeholderImage(url: string) {
  const match = /^data:image\/webp;base64,([A-Za-z0-9+/=]+)$/.exec(url)
  return sharp(Buffer.from(match?.[1] ?? '', 'base64')).metadata()
}

t.test('a still image gets upright variants, a placeholder and its colour from one decode', async (t) => {
  const photo = await sharp({ create: { width: 3000, height: 2000, channels: 3, background: '#6b7f92' } }).jpeg().withMetadata({ orientation: 6 }).toBuffer()
  const result = await normalizeImage(photo, limits, DEFAULT_VARIANTS)
  t.match(result, { width: 2000, height: 3000, contentType: 'image/jpeg' }, 'the original, upright')
  t.same(result.variants.map((v) => [v.width, v.height, v.contentType, v.extension]), [
    [320, 480, 'image/webp', 'webp'],
    [640, 960, 'image/webp', 'webp'],
    [1280, 1920, 'image/webp', 'webp'],
    [1920, 2880, 'image/webp', 'webp']
  ])
  for (const variant of result.variants) {
    const metadata = await sharp(variant.data).metadata()
    t.match(metadata, { format: 'webp', width: variant.width, height: variant.height }, `${variant.width}w is a WebP of its size`)
    t.equal(metadata.exif ?? metadata.icc ?? metadata.orientation, undefined, `${variant.width}w has no metadata`)
  }
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(result.color.slice(i, i + 2), 16))
  t.ok(Math.abs(r! - 0x6b) <= 16 && Math.abs(g! - 0x7f) <= 16 && Math.abs(b! - 0x92) <= 16, `the dominant colour ${result.color} is the photo's`)
  t.ok(result.placeholder.length <= 600, `placeholder of ${result.placeholder.length} characters`)
  const placeholder = await placeholderImage(result.placeholder)
  t.ok(Math.max(placeholder.width ?? 99, placeholder.height ?? 99) <= 32, 'at most 32 px on its longest side')
  t.equal(placeholder.height! > placeholder.width!, true, 'upright like the original')
})

t.test('variants are never upscaled, can be another format, and can be turned off', async (t) => {
  const narrow = await normalizeImage(await images.png(500, 300), limits, DEFAULT_VARIANTS)
  t.same(narrow.variants.map((v) => v.width), [320], 'a 500-pixel PNG gets only the 320 variant')
  t.same((await normalizeImage(await images.png(320, 100), limits, DEFAULT_VARIANTS)).variants, [], 'none as wide as the original')
  const avif = await normalizeImage(await images.jpeg(700, 400), limits, { widths: [640, 320], format: 'avif' })
  t.same(avif.variants.map((v) => [v.width, v.contentType]), [[320, 'image/avif'], [640, 'image/avif']], 'ascending, in the format asked for')
  t.same((await normalizeImage(await images.jpeg(700, 400), limits, { widths: [], format: 'webp' })).variants, [], 'no widths, no variants')
})

t.test('a noisy image still gets a placeholder within 600 characters', async (t) => {
  const noise = await sharp(Buffer.from(Array.from({ length: 400 * 400 * 3 }, (_, i) => (i * 7919) % 251)), { raw: { width: 400, height: 400, channels: 3 } }).png().toBuffer()
  const result = await normalizeImage(noise, limits, DEFAULT_VARIANTS)
  t.ok(result.placeholder.length <= 600, `${result.placeholder.length} characters`)
  t.ok((await placeholderImage(result.placeholder)).width! <= 32)
})

t.test('an animated image keeps its frames, gets no variants, and a placeholder from its first frame', async (t) => {
  for (const make of [images.animatedGif, images.animatedWebp]) {
    const result = await normalizeImage(await make(), limits, DEFAULT_VARIANTS)
    t.same(result.variants, [], result.contentType)
    t.match(result.color, /^#[0-9a-f]{6}$/)
    t.ok((await placeholderImage(result.placeholder)).width! <= 32)
  }
})
