import { randomUUID } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Config } from './config.js'
import type { Database } from './db/client.js'
import { notFound } from './errors/app-error.js'
import authPlugin from './plugins/auth.js'
import cors from './plugins/cors.js'
import dbPlugin from './plugins/db.js'
import errorsPlugin, { handleError, writeRawError } from './plugins/errors.js'
import httpCaching from './plugins/http-caching.js'
import idempotencyPlugin from './plugins/idempotency.js'
import mediaPlugin from './plugins/media.js'
import metricsPlugin from './plugins/metrics.js'
import { Metrics } from './metrics/instruments.js'
import multipartPlugin from './plugins/multipart.js'
import openApiPlugin from './plugins/openapi.js'
import rateLimitPlugin from './plugins/rate-limit.js'
import slowBodies from './plugins/slow-bodies.js'
import wellFormedText from './plugins/well-formed-text.js'
import { uploadKeyword } from './plugins/forms.js'
import { ANNOTATIONS, FORMATS } from './lib/vocabulary.js'
import securityHeaders from './plugins/security-headers.js'
import authRoutes from './modules/auth/routes.js'
import opsRoutes from './modules/ops/routes.js'
import postRoutes from './modules/posts/routes.js'
import bookRoutes from './modules/books/routes.js'
import reviewRoutes from './modules/reviews/routes.js'

export type AppConfig = Config & { jwtSecret: string }

// JSON bodies are small; images travel in multipart forms with their own limits.
const JSON_BODY_LIMIT = 1024 * 1024

export interface BuildOptions {
  /** Where logs go (standard output by default). */
  logStream?: { write(line: string): void }
  /** A database another app of this process opened: both then share its rows (and its limits). */
  database?: Database
}

export async function buildApp(config: AppConfig, options: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: {
      level: config.logLevel,
      ...(options.logStream ? { stream: options.logStream } : {}),
      redact: ['req.headers.authorization', 'req.headers.cookie', 'req.body.password']
    },
    genReqId: () => randomUUID(),
    trustProxy: trustProxyOption(config.trustProxy),
    bodyLimit: JSON_BODY_LIMIT,
    // Every phase of a connection is bounded: its headers, its whole request, its idle time.
    requestTimeout: config.http.requestTimeoutMs,
    keepAliveTimeout: config.http.keepAliveTimeoutMs,
    // Node checks those deadlines on this interval (30 s by default).
    http: { headersTimeout: Math.min(config.http.headersTimeoutMs, config.http.requestTimeoutMs), connectionsCheckingInterval: 1000 },
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    // Routing errors (a badly encoded URL, an over-long parameter) get the app's error shape too.
    frameworkErrors: (error, request, reply) =>
      handleError(error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? notFound() : error, request, reply),
    // Requests Node's HTTP parser refuses never reach Fastify; answer them in the same shape.
    clientErrorHandler: (error, socket) => {
      if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') writeRawError(socket, 'REQUEST_TIMEOUT', 'The request took too long to arrive')
      else writeRawError(socket, 'BAD_REQUEST', 'The request could not be parsed')
    },
    // The annotations are documentation, not validation: let the validator accept them.
    // `upload` checks a write's file fields (forms put uploads where JSON has null).
    // `verbose` keeps the failing schema on each error, so a pattern failure can be
    // explained in words instead of in regex form.
    // An unknown body field is refused (UNKNOWN_FIELD), not dropped: a typo must not answer
    // 200 with nothing changed. Query strings stay open (cache busters, tracking tags).
    // `allErrors`: a form shows every field's problem at once (the answer's `errors`); the
    // message names the first, and the body limit bounds the work.
    ajv: { customOptions: { keywords: [...ANNOTATIONS, uploadKeyword], formats: FORMATS, verbose: true, removeAdditional: false, allErrors: true } },
    schemaErrorFormatter: (errors, dataVar) => new Error(errors[0] ? `${dataVar}${errors[0].instancePath} ${errors[0].message ?? 'is not valid'}` : `${dataVar} is not valid`)
  }).withTypeProvider<TypeBoxTypeProvider>()

  // Hooks on every request are callback-style: an async one costs a promise per request.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id)
    done()
  })

  // Bodies are JSON (or, for uploads, multipart): plain text is refused with 415, not parsed.
  app.removeContentTypeParser('text/plain')
  await registerExternalPlugins(app, config)
  await app.register(slowBodies, { minBytesPerSecond: config.http.bodyMinBytesPerSecond })
  await app.register(errorsPlugin)
  await app.register(httpCaching, { maxAgeSeconds: config.http.cacheMaxAgeSeconds })
  await app.register(wellFormedText)
  // Only a scraped instance counts: without METRICS_TOKEN no part reports anything.
  const scraped = config.metricsToken === undefined ? undefined : { token: config.metricsToken, metrics: new Metrics() }
  const metrics = scraped?.metrics
  await app.register(dbPlugin, {
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    poolMax: config.databasePoolMax,
    timeoutMs: config.databaseTimeoutMs,
    onQueryError: metrics && ((kind) => metrics.queryFailed(kind)),
    shared: options.database
  })
  await app.register(rateLimitPlugin, { onRefused: metrics && ((route) => metrics.rateLimited(route)) })
  await app.register(authPlugin, { secret: config.jwtSecret, expiresInSeconds: config.jwtExpiresInSeconds })
  await app.register(idempotencyPlugin)
  await app.register(multipartPlugin, {
    maxFileBytes: config.media.maxBytes,
    memoryBudgetBytes: config.media.memoryBudgetBytes,
    uploadsPerAddress: config.media.uploadsPerAddress,
    onRefused: metrics && ((reason) => metrics.uploadRefused(reason))
  })
  await app.register(mediaPlugin, { config: config.media, observer: metrics })
  if (scraped) await app.register(metricsPlugin, scraped)
  await app.register(openApiPlugin, { publicUrl: config.publicUrl })

  await app.register(opsRoutes, { publicUrl: config.publicUrl })
  await app.register(authRoutes, {
    prefix: '/api/v1/auth',
    allowRegistration: config.allowRegistration,
    lifetimes: { accessSeconds: config.jwtExpiresInSeconds, refreshSeconds: config.refreshExpiresInSeconds },
    pruneIntervalMs: config.sessionsPruneIntervalMs,
    rateLimits: config.rateLimits
  })
  await app.register(postRoutes, { prefix: '/api/v1/posts', publicUrl: config.publicUrl })
  await app.register(bookRoutes, { prefix: '/api/v1/books', publicUrl: config.publicUrl })
  await app.register(reviewRoutes, { prefix: '/api/v1/books', publicUrl: config.publicUrl })
  return app
}

// A hop count means "trust that many proxies in front of us", nearest first.
function trustProxyOption(value: Config['trustProxy']) {
  return typeof value === 'number' ? (_address: string, hop: number) => hop < value : value
}

async function registerExternalPlugins(app: FastifyInstance, config: AppConfig) {
  // upgrade-insecure-requests would make browsers fetch /docs assets over https from a
  // plain-http server (a container on a LAN address) and show a blank page.
  await app.register(securityHeaders, { contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } })
  await app.register(cors, { origins: config.corsOrigins, development: config.env === 'development' })
}
