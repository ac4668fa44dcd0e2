import type { MediaConfig } from '../config.js'
import { AppError } from '../errors/app-error.js'
import type { ImageObserver, StoreObserver } from '../metrics/instruments.js'
import { createImageQueue, normalizeImage, type ImageQueue, type NormalizedImage } from './image.js'
import { createLocalStore } from './local.js'
import { createS3Store } from './s3.js'
import type { MediaStore } from './store.js'

/** The store the configuration asks for: S3 when a bucket is configured, else local disk. */
export function createStore(config: MediaConfig, observer?: StoreObserver): MediaStore {
  const location = { prefix: config.prefix, baseUrl: config.baseUrl }
  return config.s3 ? createS3Store({ ...config.s3, ...location }, observer) : createLocalStore({ root: config.root, ...location })
}

export interface Normalizer {
  normalize(bytes: Buffer): Promise<NormalizedImage>
  queue: ImageQueue
}

/**
 * Normalization the way the configuration asks for it: its limits and variants, through a
 * bounded queue. `observer` hears how long each image took (the wait for a slot left out)
 * and which were refused.
 */
export function configuredNormalizer(config: MediaConfig, observer: ImageObserver = UNOBSERVED): Normalizer {
  const limits = { maxBytes: config.maxBytes, maxPixels: config.maxPixels, maxSide: config.maxSide, processTimeoutMs: config.processTimeoutMs }
  const queue = createImageQueue(config.concurrency, config.queueMax)
  return {
    queue,
    async normalize(bytes) {
      try {
        return await queue.run(() => timed(observer, () => normalizeImage(bytes, limits, config.variants)))
      } catch (error) {
        if (error instanceof AppError) observer.refused(error.code === 'SERVER_BUSY' ? 'queue_full' : error.code.toLowerCase())
        throw error
      }
    }
  }
}

const UNOBSERVED: ImageObserver = { processed: () => {}, refused: () => {} }

async function timed(observer: ImageObserver, task: () => Promise<NormalizedImage>): Promise<NormalizedImage> {
  const started = performance.now()
  const seconds = () => (performance.now() - started) / 1000
  try {
    const image = await task()
    observer.processed('ok', seconds())
    return image
  } catch (error) {
    observer.processed(error instanceof AppError ? error.code.toLowerCase() : 'error', seconds())
    throw error
  }
}
