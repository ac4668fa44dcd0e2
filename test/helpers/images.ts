import { crc32, deflateSync } from 'node:zlib'
import sharp from 'sharp'

/** Images and hostile files, made by the tests themselves. */

const solid = (width: number, height: number, background: string) =>
  sharp({ create: { width, height, channels: 3, background } })

export const jpeg = (width = 40, height = 20) => solid(width, height, '#c03').jpeg().toBuffer()
export const png = (width = 40, height = 20) => solid(width, height, '#3c0').png().toBuffer()
export const webp = () => solid(30, 20, '#03c').webp().toBuffer()
export const avif = () => solid(30, 20, '#0cc').avif().toBuffer()

async function frames() {
  return Promise.all([255, 128, 0].map((r) => sharp({ create: { width: 16, height: 12, channels: 4, background: { r, g: 0, b: 0, alpha: 1 } } }).png().toBuffer()))
}
export const animatedGif = async () => sharp(await frames(), { join: { animated: true } }).gif({ delay: [100, 100, 100] }).toBuffer()
export const animatedWebp = async () => sharp(await frames(), { join: { animated: true } }).webp().toBuffer()

/** Left half red, right half blue, 40x20, with GPS EXIF and "rotate 90° clockwise" (orientation 6). */
export async function jpegWithGpsAndOrientation(): Promise<Buffer> {
  const halves = await sharp({ create: { width: 40, height: 20, channels: 3, background: '#f00' } })
    .composite([{ input: await solid(20, 20, '#00f').png().toBuffer(), left: 20, top: 0 }])
    .png()
    .toBuffer()
  return sharp(halves)
    .jpeg()
    .withExif({ IFD0: { Copyright: 'someone', Artist: 'Secret Name' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 24/1', GPSLongitudeRef: 'E', GPSLongitude: '2/1 21/1 3/1' } })
    .withMetadata({ orientation: 6 })
    .toBuffer()
}

export const SCRIPT = '<script>alert("polyglot")</script>'

export const hostile = {
  textNamedJpg: () => Buffer.from('just some text, not an image at all\n'),
  svgWithScript: () => Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">${SCRIPT}<rect width="10" height="10"/></svg>`),
  html: () => Buffer.from(`<!doctype html><html><body>${SCRIPT}</body></html>`),
  /** A valid GIF that a browser would also run as a page if it were served as HTML. */
  gifPolyglot: async () => Buffer.concat([await animatedGif(), Buffer.from(SCRIPT)]),
  truncatedJpeg: async () => {
    const whole = await jpeg(400, 300)
    return whole.subarray(0, Math.floor(whole.length * 0.6))
  },
  /** A PNG of a few dozen bytes whose header claims 20000 x 20000 pixels. */
  pixelBomb: () => {
    const chunk = (type: string, data: Buffer) => {
      const body = Buffer.concat([Buffer.from(type, 'ascii'), data])
      const length = Buffer.alloc(4)
      length.writeUInt32BE(data.length)
      const crc = Buffer.alloc(4)
      crc.writeUInt32BE(crc32(body) >>> 0)
      return Buffer.concat([length, body, crc])
    }
    const header = Buffer.alloc(13)
    header.writeUInt32BE(20000, 0)
    header.writeUInt32BE(20000, 4)
    header.set([8, 2, 0, 0, 0], 8) // 8-bit RGB, no interlace
    return Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', header),
      chunk('IDAT', deflateSync(Buffer.alloc(1000))),
      chunk('IEND', Buffer.alloc(0))
    ])
  }
}
