import type { MediaConfig } from '../config.js'
import { createImageQueue, normalizeImage, type NormalizedImage } from './image.js'
import { createLocalStore } from './local.js'
import { createS3Store } from './s3.js'
import type { MediaStore } from './store.js'

/** The store the configuration asks for: S3 when a bucket is configured, else local disk. */
export function createStore(config: MediaConfig): MediaStore {
  const location = { prefix: config.prefix, baseUrl: config.baseUrl }
  return config.s3 ? createS3Store({ ...config.s3, ...location }) : createLocalStore({ root: config.root, ...location })
}

/** Normalization the way the configuration asks for it: its limits and variants, through a bounded queue. */
export function configuredNormalizer(config: MediaConfig): (bytes: Buffer) => Promise<NormalizedImage> {
  const limits = { maxBytes: config.maxBytes, maxPixels: config.maxPixels, maxSide: config.maxSide, processTimeoutMs: config.processTimeoutMs }
  const queue = createImageQueue(config.concurrency, config.queueMax)
  return (bytes) => queue.run(() => normalizeImage(bytes, limits, config.variants))
}
