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

export interface NormalizedImage {
  data: Buffer
  contentType: string
  extension: string
  width: number
  height: number
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
 * upright and without metadata, which also destroys anything smuggled around them.
 */
export async function normalizeImage(bytes: Buffer, limits: ImageLimits): Promise<NormalizedImage> {
  if (bytes.length > limits.maxBytes) throw fileTooLarge(limits.maxBytes)
  const mime = await sniffType(bytes)
  const format = mime && formats[mime]
  if (!format) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Images must be JPEG, PNG, WEBP, GIF or AVIF')
  }
  const options: sharp.SharpOptions = { animated: format.animated, failOn: 'error', limitInputPixels: limits.maxPixels }
  await refuseHugeImages(bytes, options, limits)
  try {
    const pipeline = format.encode(sharp(bytes, options).rotate().toColourspace('srgb'))
    const { data, info } = await pipeline.timeout({ seconds: Math.ceil(limits.processTimeoutMs / 1000) }).toBuffer({ resolveWithObject: true })
    const contentType = format.extension === 'png' ? 'image/png' : mime
    return { data, contentType, extension: format.extension, width: info.width, height: info.pageHeight ?? info.height }
  } catch (error) {
    if (isPixelLimitError(error)) throw tooManyPixels(limits.maxPixels)
    if (isTimeout(error)) throw imageTooComplex(limits.processTimeoutMs)
    throw invalidImage()
  }
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
async function refuseHugeImages(bytes: Buffer, options: sharp.SharpOptions, limits: ImageLimits) {
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
