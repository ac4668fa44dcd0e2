import { mkdir } from 'node:fs/promises'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import fastifyStatic from '@fastify/static'
import type { MediaConfig } from '../config.js'
import type { NormalizedImage } from '../media/image.js'
import { retryFailedDeletions, type MediaContext, type MediaLog } from '../media/lifecycle.js'
import { localMediaFolder } from '../media/local.js'
import type { MediaStore } from '../media/store.js'
import type { ImageObserver, StoreObserver } from '../metrics/instruments.js'
import { configuredNormalizer, createStore } from '../media/configured-store.js'
import { runPeriodically } from './periodic.js'

export interface Media {
  store: MediaStore
  /** Normalizes an upload through the bounded processing queue. */
  normalize(bytes: Buffer): Promise<NormalizedImage>
  /** The images being processed now, and those waiting for a slot. */
  queueFigures(): { active: number; waiting: number }
  /** The absolute URL of a stored name, or null for no image. */
  url(name: string): string
  url(name: string | null): string | null
  /** What the media lifecycle works with; warnings go to `log` (the app's by default). */
  context(log?: MediaLog): MediaContext
}

declare module 'fastify' {
  interface FastifyInstance {
    media: Media
  }
}

export interface MediaPluginOptions {
  config: MediaConfig
  /** Hears of every image processed and every call to the store. */
  observer?: ImageObserver & StoreObserver
}

async function mediaPlugin(app: FastifyInstance, { config, observer }: MediaPluginOptions) {
  const store = createStore(config, observer)
  const { normalize, queue } = configuredNormalizer(config, observer)
  app.decorate('media', {
    store,
    normalize,
    queueFigures: queue.figures,
    url: absoluteUrl(store),
    context: (log: MediaLog = app.log) => ({ db: app.db, transaction: app.database.transaction, store, log, normalize })
  })

  if (store.kind === 'local') await serveLocalMedia(app, config)
  if (config.retryIntervalMs > 0) startRetryLoop(app, config.retryIntervalMs)
}

function absoluteUrl(store: MediaStore): Media['url'] {
  function url(name: string): string
  function url(name: string | null): string | null
  function url(name: string | null) {
    return name ? store.url(name) : null
  }
  return url
}

async function serveLocalMedia(app: FastifyInstance, config: MediaConfig) {
  const root = localMediaFolder(config)
  await mkdir(root, { recursive: true })
  await app.register(fastifyStatic, {
    root,
    prefix: '/media/',
    index: false,
    list: false,
    dotfiles: 'deny',
    decorateReply: false,
    // Names are never reused, so a stored file can be cached forever.
    cacheControl: true,
    maxAge: '365d',
    immutable: true,
    // Stored images were re-encoded, but the browser must still never take one for a page.
    // Frontends on other origins embed them with <img src>, which same-origin CORP would block.
    setHeaders: (response) => {
      response.setHeader('X-Content-Type-Options', 'nosniff')
      response.setHeader('Content-Security-Policy', "default-src 'none'; sandbox")
      response.setHeader('Cross-Origin-Resource-Policy', 'cross-origin')
    }
  })
}

/** Retries failed deletions in the background; every instance may run it (rows are locked). */
function startRetryLoop(app: FastifyInstance, intervalMs: number) {
  runPeriodically(app, intervalMs, 'retrying media deletions failed', async () => {
    const result = await retryFailedDeletions(app.media.context(app.log))
    if (result.deleted + result.failed + result.kept > 0) app.log.info(result, 'retried media deletions')
  })
}

export default fp(mediaPlugin, { name: 'media', fastify: '5.x', dependencies: ['db'] })
