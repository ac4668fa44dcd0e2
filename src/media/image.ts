import type { Readable } from 'node:stream'
import { fileTypeFromBuffer } from 'file-type'
import sharp from 'sharp'
import { AppError } from '../errors.js'

// libvips' operation cache trades memory for speed on repeated work; uploads never repeat.
sharp.cache(false)

export interface ImageLimits {
  maxBytes: number
  maxPixels: number
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

/** The accepted formats, by the MIME type sniffed from the bytes; each is re-encoded as itself. */
const formats: Record<string, Format> = {
  'image/jpeg': { extension: 'jpg', animated: false, encode: (p) => p.jpeg({ quality: 85 }) },
  'image/png': { extension: 'png', animated: false, encode: (p) => p.png({ compressionLevel: 6 }) },
  'image/webp': { extension: 'webp', animated: true, encode: (p) => p.webp({ quality: 85 }) },
  'image/gif': { extension: 'gif', animated: true, encode: (p) => p.gif() },
  'image/avif': { extension: 'avif', animated: false, encode: (p) => p.avif({ quality: 60, effort: 2 }) }
}

export const fileTooLarge = (maxBytes: number) =>
  new AppError(413, 'FILE_TOO_LARGE', `The file is larger than the limit of ${maxBytes} bytes`)

/**
 * Reads an upload into memory, failing with 413 as soon as it passes `maxBytes`
 * rather than after the whole body has arrived.
 */
export async function readLimited(stream: Readable, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let total = 0
  for await (const chunk of stream) {
    total += (chunk as Buffer).length
    if (total > maxBytes) {
      stream.destroy()
      throw fileTooLarge(maxBytes)
    }
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks, total)
}

const invalidImage = () => new AppError(422, 'INVALID_IMAGE', 'The file is not a valid image: it is truncated or corrupt')

/**
 * Untrusted bytes in, a clean image out: the type is decided from the bytes, the size is
 * refused from the header before decoding, and the pixels are decoded and re-encoded,
 * upright and without metadata, which also destroys anything smuggled around them.
 */
export async function normalizeImage(bytes: Buffer, limits: ImageLimits): Promise<NormalizedImage> {
  if (bytes.length > limits.maxBytes) throw fileTooLarge(limits.maxBytes)
  const type = await fileTypeFromBuffer(bytes)
  const format = type && formats[type.mime]
  if (!type || !format) {
    throw new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', `Images must be ${Object.values(formats).map((f) => f.extension.toUpperCase()).join(', ')}`)
  }
  const options: sharp.SharpOptions = { animated: format.animated, failOn: 'error', limitInputPixels: limits.maxPixels }
  await refuseHugeImages(bytes, options, limits.maxPixels)
  try {
    const pipeline = format.encode(sharp(bytes, options).rotate().toColourspace('srgb'))
    const { data, info } = await pipeline.toBuffer({ resolveWithObject: true })
    return { data, contentType: type.mime, extension: format.extension, width: info.width, height: info.pageHeight ?? info.height }
  } catch (error) {
    if (isPixelLimitError(error)) throw imageTooLarge(limits.maxPixels)
    throw invalidImage()
  }
}

const imageTooLarge = (maxPixels: number) =>
  new AppError(422, 'IMAGE_TOO_LARGE', `The image has more than ${maxPixels} pixels`)

const isPixelLimitError = (error: unknown) => error instanceof Error && /pixel limit/i.test(error.message)

/** Reads only the header: a 20000x20000 "pixel bomb" is refused before a byte is decoded. */
async function refuseHugeImages(bytes: Buffer, options: sharp.SharpOptions, maxPixels: number) {
  let metadata: sharp.Metadata
  try {
    metadata = await sharp(bytes, { ...options, limitInputPixels: false }).metadata()
  } catch {
    throw invalidImage()
  }
  const frameHeight = metadata.pageHeight ?? metadata.height ?? 0
  const pixels = (metadata.width ?? 0) * frameHeight * (metadata.pages ?? 1)
  if (pixels > maxPixels) throw imageTooLarge(maxPixels)
}
