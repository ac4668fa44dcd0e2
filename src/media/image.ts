import { createHash } from 'node:crypto'
import type { Readable } from 'node:stream'
import { fileTypeFromBuffer } from 'file-type'
import pLimit from 'p-limit'
import sharp from 'sharp'
import { AppError } from '../errors/app-error.js'

// libvips' operation cache trades memory for speed on repeated work; uploads never repeat.
sharp.cache(false)

/** A file a client sent (in a form): a write's body carries it where JSON would carry `null`. */
export class Upload {
  constructor(
    readonly bytes: Buffer,
    readonly filename: string
  ) {}

  /** In a body's JSON (an Idempotency-Key's fingerprint, a log), a file is its digest. */
  toJSON() {
    // Only the bytes: a retry that names the same file differently is the same request.
    return { sha256: createHash('sha256').update(this.bytes).digest('hex') }
  }
}

/** What a write does to one file field: replace it (an upload), remove it (null) or keep it (undefined). */
export interface FileChange {
  upload: Upload | null | undefined
  /** The key folder of a new object: `post_images`, `covers`. */
  folder: string
}

export interface ImageLimits {
  maxBytes: number
  maxPixels: number
  /** The longest side of a frame, in pixels. */
  maxSide: number
  /** Decoding and re-encoding must finish within this; libvips counts whole seconds. */
  processTimeoutMs: number
}

/** The sizes made beside every stored image, for `srcset`. */
export interface VariantOptions {
  /** Widths in pixels; only those narrower than the original are made. */
  widths: number[]
  format: VariantFormat
}

export type VariantFormat = 'webp' | 'avif' | 'jpeg'

/** One encoded image: the original or one of its variants. */
export interface EncodedImage {
  data: Buffer
  contentType: string
  extension: string
  width: number
  height: number
}

/** An upload made safe to store, with what a frontend needs to show it well. */
export interface NormalizedImage extends EncodedImage {
  /** Resized copies, ascending by width (none for animated images). */
  variants: EncodedImage[]
  /** The dominant colour, `#rrggbb`: a background while the image loads. */
  color: string
  /** A blurred WebP of at most 32 px on its longest side, as a data URL of at most 600 characters. */
  placeholder: string
}

interface Format {
  extension: string
  animated: boolean
  encode: (pipeline: sharp.Sharp) => sharp.Sharp
}

/** The accepted formats, by the MIME type sniffed from the bytes; each is re-encoded in its own format. */
const formats: Record<string, Format> = {
  'image/jpeg': { extension: 'jpg', animated: false, encode: (p) => p.jpeg({ quality: 85 }) },
  'image/png': { extension: 'png', animated: false, encode: (p) => p.png({ compressionLevel: 6 }) },
  // An animated PNG is a PNG whose default image every decoder shows: it is kept, and stays a PNG.
  'image/apng': { extension: 'png', animated: false, encode: (p) => p.png({ compressionLevel: 6 }) },
  'image/webp': { extension: 'webp', animated: true, encode: (p) => p.webp({ quality: 85 }) },
  'image/gif': { extension: 'gif', animated: true, encode: (p) => p.gif() },
  'image/avif': { extension: 'avif', animated: false, encode: (p) => p.avif({ quality: 60, effort: 2 }) }
}

// Quality 75 is where photos stop showing artefacts at the sizes variants are shown. The
// effort only trades encoding time for file size: measured on a 1920-pixel photo, effort
// 1 encodes in 196 ms and 719 KB, the default 4 in 547 ms and 744 KB (2: 264 ms, 731 KB);
// a flat image is 5 KB either way.
const variantFormats: Record<VariantFormat, { extension: string; contentType: string; encode: (pipeline: sharp.Sharp) => sharp.Sharp }> = {
  webp: { extension: 'webp', contentType: 'image/webp', encode: (p) => p.webp({ quality: 75, effort: 1 }) },
  avif: { extension: 'avif', contentType: 'image/avif', encode: (p) => p.avif({ quality: 50, effort: 2 }) },
  jpeg: { extension: 'jpg', contentType: 'image/jpeg', encode: (p) => p.jpeg({ quality: 80 }) }
}

export const fileTooLarge = (maxBytes: number) =>
  new AppError('FILE_TOO_LARGE', `The file is larger than the limit of ${maxBytes} bytes`)

/**
 * Reads an upload into memory, failing with 413 the moment it passes `maxBytes`
 * rather than after the whole body has arrived. The declared body length (`sizeHint`)
 * bounds the file, so with it the file lands in one buffer instead of being collected
 * in chunks and copied, which would hold it twice.
 */
export async function readLimited(stream: Readable, maxBytes: number, sizeHint = 64 * 1024): Promise<Buffer> {
  let buffer: Buffer = Buffer.allocUnsafe(Math.min(sizeHint, maxBytes))
  let total = 0
  for await (const data of stream) {
    // A file stream without an encoding yields buffers.
    const chunk = Buffer.isBuffer(data) ? data : Buffer.from(String(data))
    const needed = total + chunk.length
    if (needed > maxBytes) {
      stream.destroy()
      throw fileTooLarge(maxBytes)
    }
    if (needed > buffer.length) buffer = grow(buffer, total, Math.min(maxBytes, Math.max(needed, buffer.length * 2)))
    chunk.copy(buffer, total)
    total = needed
  }
  return buffer.subarray(0, total)
}

function grow(buffer: Buffer, used: number, size: number): Buffer {
  const bigger = Buffer.allocUnsafe(size)
  buffer.copy(bigger, 0, 0, used)
  return bigger
}

const invalidImage = () => new AppError('INVALID_IMAGE', 'The file is not a valid image: it is truncated or corrupt')

/**
 * Untrusted bytes in, a clean image out: the type is decided from the bytes, the size is
 * refused from the header before decoding, and the pixels are decoded and re-encoded,
 * upright and without metadata, which also destroys anything smuggled around them. The
 * original is encoded straight from the input; everything smaller (the variants, the
 * placeholder, the colour) comes from one more decode, at the size of the largest variant
 * (JPEG decodes at that scale, shrink-on-load), each variant resized from the next larger.
 */
export async function normalizeImage(bytes: Buffer, limits: ImageLimits, variants: VariantOptions = NO_VARIANTS): Promise<NormalizedImage> {
  if (bytes.length > limits.maxBytes) throw fileTooLarge(limits.maxBytes)
  const mime = await sniffType(bytes)
  const format = mime && formats[mime]
  if (!format) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Images must be JPEG, PNG, WEBP, GIF or AVIF')
  }
  const options: sharp.SharpOptions = { animated: format.animated, failOn: 'error', limitInputPixels: limits.maxPixels }
  const pages = await refuseHugeImages(bytes, options, limits)
  const timeout = { seconds: Math.ceil(limits.processTimeoutMs / 1000) }
  const contentType = format.extension === 'png' ? 'image/png' : mime
  try {
    const input = sharp(bytes, options).rotate().toColourspace('srgb').timeout(timeout)
    const original = await encode(format.encode(input.clone()), format.extension, contentType)
    // An animated image keeps its frames and timing; it gets no variants (resizing every
    // frame would multiply the cost the pixel and frame bounds allow), and its preview
    // comes from its first frame.
    const still = pages > 1 ? sharp(bytes, { ...options, animated: false }).rotate().toColourspace('srgb').timeout(timeout) : input
    const smaller = pages > 1 ? { variants: [], smallest: undefined } : await variantsOf(still, original.width, variants, timeout)
    return { ...original, variants: smaller.variants, ...(await previewOf(smaller.smallest ?? still)) }
  } catch (error) {
    if (isPixelLimitError(error)) throw tooManyPixels(limits.maxPixels)
    if (isTimeout(error)) throw imageTooComplex(limits.processTimeoutMs)
    throw invalidImage()
  }
}

const NO_VARIANTS: VariantOptions = { widths: [], format: 'webp' }

async function encode(pipeline: sharp.Sharp, extension: string, contentType: string): Promise<EncodedImage> {
  const { data, info } = await pipeline.toBuffer({ resolveWithObject: true })
  return { data, contentType, extension, width: info.width, height: info.pageHeight ?? info.height }
}

type Pixels = { data: Buffer; info: sharp.OutputInfo }

const fromRaw = ({ data, info }: Pixels) => sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } })

/** The variants narrower than the original, ascending, and the pixels of the smallest. */
async function variantsOf(input: sharp.Sharp, width: number, options: VariantOptions, timeout: { seconds: number }) {
  const variant = variantFormats[options.format]
  const widths = [...new Set(options.widths)].filter((candidate) => candidate < width).sort((a, b) => b - a)
  const variants: EncodedImage[] = []
  let smallest: Pixels | undefined
  for (const target of widths) {
    const resized = smallest ? fromRaw(smallest).resize({ width: target }) : input.clone().resize({ width: target })
    smallest = await resized.timeout(timeout).raw().toBuffer({ resolveWithObject: true })
    variants.unshift(await encode(variant.encode(fromRaw(smallest).timeout(timeout)), variant.extension, variant.contentType))
  }
  return { variants, smallest: smallest && fromRaw(smallest) }
}

const PLACEHOLDER_SIDES = [32, 24, 16, 8]
const PLACEHOLDER_MAX_LENGTH = 600

/** The dominant colour and a blurred thumbnail, from a 32-pixel copy. */
async function previewOf(input: sharp.Sharp): Promise<{ color: string; placeholder: string }> {
  const { data, info } = await input.clone().resize(32, 32, { fit: 'inside' }).removeAlpha().raw().toBuffer({ resolveWithObject: true })
  const thumbnail = () => sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } })
  // A busy image compresses badly: smaller sides until the data URL fits (8 px always does).
  let placeholder = ''
  for (const side of PLACEHOLDER_SIDES) {
    const webp = await thumbnail().resize(side, side, { fit: 'inside' }).blur(0.6).webp({ quality: 40, effort: 2 }).toBuffer()
    placeholder = `data:image/webp;base64,${webp.toString('base64')}`
    if (placeholder.length <= PLACEHOLDER_MAX_LENGTH) break
  }
  return { color: dominantColor(data), placeholder }
}

/**
 * The most common colour of RGB pixels, binned 4 bits per channel and averaged within the
 * winning bin: the colour that covers most of the image, not the muddy mean of all of it.
 */
function dominantColor(rgb: Buffer): string {
  const bins = new Map<number, { count: number; r: number; g: number; b: number }>()
  for (let i = 0; i + 2 < rgb.length; i += 3) {
    const [r, g, b] = [rgb[i]!, rgb[i + 1]!, rgb[i + 2]!]
    const key = ((r >> 4) << 8) | ((g >> 4) << 4) | (b >> 4)
    const bin = bins.get(key) ?? { count: 0, r: 0, g: 0, b: 0 }
    bins.set(key, { count: bin.count + 1, r: bin.r + r, g: bin.g + g, b: bin.b + b })
  }
  const top = [...bins.values()].reduce((best, bin) => (bin.count > best.count ? bin : best), { count: 0, r: 0, g: 0, b: 0 })
  const hex = (sum: number) => Math.round(sum / Math.max(1, top.count)).toString(16).padStart(2, '0')
  return `#${hex(top.r)}${hex(top.g)}${hex(top.b)}`
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

/**
 * The type the bytes claim. file-type reads past a PNG's signature and gives up on broken
 * chunks; such a file is a corrupt PNG (422), not an unknown format (415).
 */
async function sniffType(bytes: Buffer): Promise<string | undefined> {
  const type = await fileTypeFromBuffer(bytes)
  if (type) return type.mime
  return bytes.subarray(0, PNG_SIGNATURE.length).equals(PNG_SIGNATURE) ? 'image/png' : undefined
}

const imageTooComplex = (timeoutMs: number) =>
  new AppError('IMAGE_TOO_COMPLEX', `The image takes longer than ${timeoutMs} ms to process`)

const isTimeout = (error: unknown) => error instanceof Error && /^timeout: /.test(error.message)

const imageTooLarge = (message: string) => new AppError('IMAGE_TOO_LARGE', message)
const tooManyPixels = (maxPixels: number) => imageTooLarge(`The image has more than ${maxPixels} pixels`)

const isPixelLimitError = (error: unknown) => error instanceof Error && /pixel limit/i.test(error.message)

/**
 * Reads only the header: a 20000x20000 "pixel bomb" is refused before a byte is decoded,
 * and so is a 1 x 39,000,000 strip, whose pixel count passes but whose decoding is slow.
 */
async function refuseHugeImages(bytes: Buffer, options: sharp.SharpOptions, limits: ImageLimits): Promise<number> {
  let metadata: sharp.Metadata
  try {
    metadata = await sharp(bytes, { ...options, limitInputPixels: false }).metadata()
  } catch {
    throw invalidImage()
  }
  const frameHeight = metadata.pageHeight ?? metadata.height ?? 0
  const width = metadata.width ?? 0
  if (width * frameHeight * (metadata.pages ?? 1) > limits.maxPixels) throw tooManyPixels(limits.maxPixels)
  if (Math.max(width, frameHeight) > limits.maxSide) throw imageTooLarge(`The image is wider or taller than ${limits.maxSide} pixels`)
  return options.animated ? (metadata.pages ?? 1) : 1
}

export interface ImageQueue {
  /** Runs `task` when a slot is free; refuses at once with 503 when the waiting line is full. */
  run<T>(task: () => Promise<T>): Promise<T>
  /** The tasks running now, and those waiting for a slot. */
  figures(): { active: number; waiting: number }
}

/**
 * Decoding a 12-megapixel photo takes hundreds of megabytes: this caps how many are
 * decoded at once and how many wait, so a burst of uploads cannot exhaust memory.
 */
export function createImageQueue(concurrency: number, queueMax: number): ImageQueue {
  const limit = pLimit(concurrency)
  return {
    run(task) {
      if (limit.activeCount >= concurrency && limit.pendingCount >= queueMax) {
        return Promise.reject(new AppError('SERVER_BUSY', 'Too many images are being processed, try again shortly', { 'Retry-After': '2' }))
      }
      return limit(task)
    },
    figures: () => ({ active: limit.activeCount, waiting: limit.pendingCount })
  }
}
