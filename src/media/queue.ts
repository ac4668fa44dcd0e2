import pLimit from 'p-limit'
import { AppError } from '../errors/app-error.js'

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
