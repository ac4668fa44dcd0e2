import { randomUUID } from 'node:crypto'
import { AppError } from '../errors/app-error.js'

/**
 * Where images live. Names are relative to the media prefix (`post_images/<uuid>.jpg`):
 * that is what the database stores, and what `url` turns into an absolute URL.
 */
export interface MediaStore {
  readonly kind: 'local' | 's3'
  put(name: string, body: Buffer, contentType: string): Promise<void>
  /** Succeeds when the object is gone, including when it never existed. */
  delete(name: string): Promise<void>
  url(name: string): string
  /** Resolves when the store answers with the configured credentials; rejects with the reason. */
  check(): Promise<void>
}

// Objects are never overwritten, so clients and CDNs may keep them forever.
export const IMMUTABLE_CACHE_CONTROL = 'public, max-age=31536000, immutable'

const NAME = /^[a-z_]+\/[0-9a-f-]{36}(-[1-9][0-9]{0,4}w)?\.(jpg|png|webp|gif|avif)$/

/** A fresh name: the client's file name never takes part, so it cannot steer where a file lands. */
export function newMediaName(folder: string, extension: string): string {
  return `${folder}/${randomUUID()}.${extension}`
}

/** A variant's name, beside its image's: `covers/<uuid>.jpg` → `covers/<uuid>-640w.webp`. */
export function variantName(name: string, width: number, extension: string): string {
  return `${name.slice(0, name.lastIndexOf('.'))}-${width}w.${extension}`
}

/** Guards every store operation: only names this service generates are ever read, written or deleted. */
export function assertMediaName(name: string): void {
  if (!NAME.test(name)) throw new Error(`not a media name: ${JSON.stringify(name)}`)
}

export const storageUnavailable = () =>
  new AppError('STORAGE_UNAVAILABLE', 'The media store is unavailable, try again later', { 'Retry-After': '5' })
