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

// Variants trade a little quality for a lot of speed: at effort 2 a WebP encodes about
// twice as fast as at the default 4 and is a few percent larger; quality 75 is where
// photos stop showing artefacts at the sizes they are shown.
const variantFormats: Record<VariantFormat, { extension: string; contentType: string; encode: (pipeline: sharp.Sharp) => sharp.Sharp }> = {
  webp: { extension: 'webp', contentType: 'image/webp', encode: (p) => p.webp({ quality: 75, effort: 2 }) },
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
 * upright and without metadata, which also destroys anything smuggled around them. A still
 * image is decoded once, to raw pixels, and the original, its variants, its placeholder and
 * its colour are all made from them.
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
    const upright = (input: sharp.Sharp) => input.rotate().toColourspace('srgb').timeout(timeout)
    if (pages > 1) return await animated(bytes, options, format, contentType, upright)
    const pixels = await upright(sharp(bytes, options)).raw().toBuffer({ resolveWithObject: true })
    const original = await encode(format.encode(fromRaw(pixels).timeout(timeout)), format.extension, contentType)
    const resized = await variantsOf(pixels, variants, timeout)
    return { ...original, variants: resized.variants, ...(await previewOf(resized.smallest)) }
  } catch (error) {
    if (isPixelLimitError(error)) throw tooManyPixels(limits.maxPixels)
    if (isTimeout(error)) throw imageTooComplex(limits.processTimeoutMs)
    throw invalidImage()
  }
}

const NO_VARIANTS: VariantOptions = { widths: [], format: 'webp' }

type Pixels = { data: Buffer; info: sharp.OutputInfo }

const fromRaw = ({ data, info }: Pixels) => sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } })

async function encode(pipeline: sharp.Sharp, extension: string, contentType: string): Promise<EncodedImage> {
  const { data, info } = await pipeline.toBuffer({ resolveWithObject: true })
  return { data, contentType, extension, width: info.width, height: info.pageHeight ?? info.height }
}

/**
 * Each variant is resized from the next larger one (the largest from the original's
 * pixels), so a 12-megapixel photo is scaled down in full once, not once per width.
 */
async function variantsOf(pixels: Pixels, options: VariantOptions, timeout: { seconds: number }) {
  const variant = variantFormats[options.format]
  const widths = [...new Set(options.widths)].filter((width) => width < pixels.info.width).sort((a, b) => b - a)
  const variants: EncodedImage[] = []
  let source = pixels
  for (const width of widths) {
    source = await fromRaw(source).resize({ width }).timeout(timeout).raw().toBuffer({ resolveWithObject: true })
    variants.unshift(await encode(variant.encode(fromRaw(source).timeout(timeout)), variant.extension, variant.contentType))
  }
  return { variants, smallest: source }
}

const PLACEHOLDER_SIDES = [32, 24, 16, 8]
const PLACEHOLDER_MAX_LENGTH = 600

/** The dominant colour and a blurred thumbnail, from the smallest pixels at hand. */
async function previewOf(pixels: Pixels): Promise<{ color: string; placeholder: string }> {
  const thumbnail = await fromRaw(pixels).resize(32, 32, { fit: 'inside' }).raw().toBuffer({ resolveWithObject: true })
  const { dominant } = await fromRaw(thumbnail).stats()
  const color = `#${[dominant.r, dominant.g, dominant.b].map((value) => value.toString(16).padStart(2, '0')).join('')}`
  // A busy image compresses badly: smaller sides until the data URL fits (8 px always does).
  let placeholder = ''
  for (const side of PLACEHOLDER_SIDES) {
    const webp = await fromRaw(thumbnail).resize(side, side, { fit: 'inside' }).blur(0.6).webp({ quality: 40, effort: 2 }).toBuffer()
    placeholder = `data:image/webp;base64,${webp.toString('base64')}`
    if (placeholder.length <= PLACEHOLDER_MAX_LENGTH) break
  }
  return { color, placeholder }
}

/**
 * An animated GIF or WebP keeps its frames and timing, which raw pixels would lose: it is
 * re-encoded from the file, gets no variants (resizing every frame would multiply the cost
 * the pixel and frame bounds allow), and its placeholder and colour come from its first frame.
 */
async function animated(bytes: Buffer, options: sharp.SharpOptions, format: Format, contentType: string, upright: (input: sharp.Sharp) => sharp.Sharp): Promise<NormalizedImage> {
  const original = await encode(format.encode(upright(sharp(bytes, options))), format.extension, contentType)
  const first = await upright(sharp(bytes, { ...options, animated: false })).resize(64, 64, { fit: 'inside' }).raw().toBuffer({ resolveWithObject: true })
  return { ...original, variants: [], ...(await previewOf(first)) }
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
    }
  }
}
