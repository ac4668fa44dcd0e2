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
    const header = Buffer.alloc(13)
    header.writeUInt32BE(20000, 0)
    header.writeUInt32BE(20000, 4)
    header.set([8, 2, 0, 0, 0], 8) // 8-bit RGB, no interlace
    return Buffer.concat([PNG_SIGNATURE, pngChunk('IHDR', header), pngChunk('IDAT', deflateSync(Buffer.alloc(1000))), pngChunk('IEND', Buffer.alloc(0))])
  }
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

function pngChunk(type: string, data: Buffer) {
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data])
  const length = Buffer.alloc(4)
  length.writeUInt32BE(data.length)
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(body) >>> 0)
  return Buffer.concat([length, body, crc])
}

/** A real, complete PNG of blank pixels: `colorType` 0 is 8-bit grey, 3 is a 256-colour palette. */
export function blankPng(width: number, height: number, colorType: 0 | 3 = 0): Buffer {
  const header = Buffer.alloc(13)
  header.writeUInt32BE(width, 0)
  header.writeUInt32BE(height, 4)
  header.set([8, colorType, 0, 0, 0], 8)
  // Each row is a filter byte and one byte per pixel, all zero: it deflates to almost nothing.
  const pixels = deflateSync(Buffer.alloc((width + 1) * height), { level: 9 })
  const palette = colorType === 3 ? [pngChunk('PLTE', Buffer.from(Array.from({ length: 768 }, (_, i) => (i * 37) & 255)))] : []
  return Buffer.concat([PNG_SIGNATURE, pngChunk('IHDR', header), ...palette, pngChunk('IDAT', pixels), pngChunk('IEND', Buffer.alloc(0))])
}

/** A GIF of `frames` frames of one pixel each: about 23 bytes a frame. */
export function manyFramesGif(frames: number): Buffer {
  const header = Buffer.from([0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 1, 0, 1, 0, 0x80, 0, 0, 0, 0, 0, 255, 255, 255])
  const frame = Buffer.from([0x21, 0xf9, 0x04, 0, 0, 0, 0, 0, 0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0x02, 0x02, 0x44, 0x01, 0x00])
  return Buffer.concat([header, ...Array<Buffer>(frames).fill(frame), Buffer.from([0x3b])])
}

/** A two-frame animated PNG (acTL, fcTL, fdAT) built on a real PNG, whose first frame is its default image. */
export async function apng(): Promise<Buffer> {
  const [first, second] = await Promise.all(['#f00', '#00f'].map((background) => solid(8, 8, background).png().toBuffer()))
  const chunks = (file: Buffer) => {
    const found: Array<{ type: string; data: Buffer }> = []
    for (let at = 8; at < file.length; ) {
      const length = file.readUInt32BE(at)
      found.push({ type: file.toString('ascii', at + 4, at + 8), data: file.subarray(at + 8, at + 8 + length) })
      at += 12 + length
    }
    return found
  }
  const control = (sequence: number) => {
    const data = Buffer.alloc(26)
    data.writeUInt32BE(sequence, 0)
    data.writeUInt32BE(8, 4)
    data.writeUInt32BE(8, 8)
    data.writeUInt16BE(1, 20)
    data.writeUInt16BE(10, 22)
    return pngChunk('fcTL', data)
  }
  const actl = Buffer.alloc(8)
  actl.writeUInt32BE(2, 0)
  const parts = chunks(first!)
  const ihdr = parts.find((c) => c.type === 'IHDR')!
  const idat = parts.filter((c) => c.type === 'IDAT').map((c) => pngChunk('IDAT', c.data))
  const fdat = chunks(second!).filter((c) => c.type === 'IDAT').map((c, i) => pngChunk('fdAT', Buffer.concat([Buffer.from([0, 0, 0, 2 + i]), c.data])))
  return Buffer.concat([PNG_SIGNATURE, pngChunk('IHDR', ihdr.data), pngChunk('acTL', actl), control(0), ...idat, control(1), ...fdat, pngChunk('IEND', Buffer.alloc(0))])
}
