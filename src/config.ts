import { existsSync, readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { parseEnv } from 'node:util'
import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import type { VariantOptions } from './media/image.js'

/**
 * The whole configuration surface of the service: environment variables.
 * This schema is the one definition: `.env.example` and the README table follow it.
 */
const Env = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Literal('test')], {
    default: 'development',
    description: 'development, production or test'
  }),
  HOST: Type.String({ default: '127.0.0.1', minLength: 1, description: 'interface to listen on' }),
  PORT: Type.Integer({ default: 3000, minimum: 0, maximum: 65535, description: 'TCP port, 0-65535' }),
  PUBLIC_URL: Type.Optional(Type.String({ pattern: '^https?://[^\\s/?#]+(/[^\\s?#]*)?$', description: 'an http(s) URL without query' })),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), {
    default: 'info',
    description: 'fatal, error, warn, info, debug, trace or silent'
  }),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://', description: 'a postgres:// URL' })),
  DATABASE_POOL_MAX: Type.Integer({ default: 10, minimum: 1, maximum: 200, description: 'an integer, 1-200' }),
  DATABASE_TIMEOUT_MS: Type.Integer({ default: 5000, minimum: 100, maximum: 600_000, description: 'milliseconds, 100-600000' }),
  DATA_DIR: Type.String({ default: './data', minLength: 1, description: 'a folder path' }),
  JWT_SECRET: Type.Optional(Type.String({ minLength: 32, description: 'at least 32 characters' })),
  JWT_EXPIRES_IN: Type.String({ default: '15m', pattern: '^[1-9][0-9]*[smhd]?$', description: 'seconds, or a number with s, m, h or d (e.g. 15m)' }),
  REFRESH_EXPIRES_IN: Type.String({ default: '30d', pattern: '^[1-9][0-9]*[smhd]?$', description: 'seconds, or a number with s, m, h or d (e.g. 30d): how long an unused session lasts' }),
  SESSIONS_PRUNE_INTERVAL_MS: Type.Integer({ default: 3_600_000, minimum: 0, maximum: 86_400_000, description: 'milliseconds between deletions of ended sessions (0 disables the loop)' }),
  ALLOW_REGISTRATION: Type.Boolean({ default: true, description: 'true or false' }),
  CORS_ORIGINS: Type.String({ default: '', pattern: '^(\\*|(https?://[^\\s,/]+)(,\\s*https?://[^\\s,/]+)*)?$', description: 'empty, *, or comma-separated origins like https://app.example.com' }),
  TRUST_PROXY: Type.String({ default: 'false', pattern: '^(true|false|[0-9]+|[0-9a-fA-F.:/]+(,\\s*[0-9a-fA-F.:/]+)*)$', description: 'false, true, a hop count, or comma-separated proxy addresses/CIDRs' }),
  LOGIN_RATE_LIMIT: Type.Integer({ default: 10, minimum: 1, maximum: 10000, description: 'login attempts per minute per address and per username' }),
  REGISTER_RATE_LIMIT: Type.Integer({ default: 10, minimum: 1, maximum: 100_000, description: 'registrations per hour per address, 1-100000' }),
  REGISTER_RATE_LIMIT_GLOBAL: Type.Integer({ default: 60, minimum: 1, maximum: 100_000, description: 'registrations per minute from all addresses together, 1-100000' }),
  REQUEST_TIMEOUT_MS: Type.Integer({ default: 120_000, minimum: 1000, maximum: 3_600_000, description: 'milliseconds to receive a whole request, 1000-3600000' }),
  HEADERS_TIMEOUT_MS: Type.Integer({ default: 10_000, minimum: 1000, maximum: 600_000, description: 'milliseconds to receive the request headers, 1000-600000' }),
  KEEP_ALIVE_TIMEOUT_MS: Type.Integer({ default: 72_000, minimum: 1000, maximum: 600_000, description: 'milliseconds an idle keep-alive connection stays open, 1000-600000' }),
  HTTP_CACHE_MAX_AGE: Type.Integer({ default: 0, minimum: 0, maximum: 86_400, description: 'seconds a CDN may serve a public read without revalidating, 0-86400 (0: revalidate every time)' }),
  BODY_MIN_BYTES_PER_SECOND: Type.Integer({ default: 4096, minimum: 0, maximum: 100_000_000, description: 'slowest accepted body rate in bytes per second (0 disables the check)' }),
  MEDIA_DRIVER: Type.Optional(Type.Union([Type.Literal('local'), Type.Literal('s3')], { description: 'local or s3 (s3 when S3_BUCKET is set)' })),
  MEDIA_ROOT: Type.Optional(Type.String({ minLength: 1, description: 'a folder path' })),
  MEDIA_PREFIX: Type.String({ default: 'media', pattern: '^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$', description: 'a key prefix like media (letters, digits, _ - and /)' }),
  MEDIA_BASE_URL: Type.Optional(Type.String({ pattern: '^https?://[^\\s?#]+$', description: 'an http(s) URL such as https://cdn.example.com/media/' })),
  MEDIA_MAX_BYTES: Type.Integer({ default: 10 * 1024 * 1024, minimum: 1024, maximum: 100 * 1024 * 1024, description: 'bytes per uploaded file, 1024-104857600' }),
  MEDIA_MAX_PIXELS: Type.Integer({ default: 40_000_000, minimum: 1, maximum: 268_402_689, description: 'pixels per image (all frames), at most 268402689' }),
  MEDIA_MAX_SIDE: Type.Integer({ default: 12_000, minimum: 1, maximum: 100_000, description: 'pixels of the longest side of a frame, 1-100000' }),
  MEDIA_PROCESS_TIMEOUT_MS: Type.Integer({ default: 5000, minimum: 1000, maximum: 600_000, description: 'milliseconds to decode and re-encode one image, 1000-600000' }),
  MEDIA_MEMORY_BUDGET_MB: Type.Integer({ default: 128, minimum: 16, maximum: 65_536, description: 'megabytes of upload bodies held at once, 16-65536' }),
  MEDIA_UPLOADS_PER_ADDRESS: Type.Integer({ default: 4, minimum: 1, maximum: 10_000, description: 'uploads in progress at once per client address, 1-10000' }),
  MEDIA_VARIANT_WIDTHS: Type.String({
    default: '320,640,1280,1920',
    pattern: '^([1-9][0-9]{0,4}(,[1-9][0-9]{0,4}){0,7})?$',
    description: 'up to 8 comma-separated widths in pixels, such as 320,640,1280,1920 (empty: no variants)'
  }),
  MEDIA_VARIANT_FORMAT: Type.Union([Type.Literal('webp'), Type.Literal('avif'), Type.Literal('jpeg')], { default: 'webp', description: 'webp, avif or jpeg' }),
  IMAGE_CONCURRENCY: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, description: 'images processed at once, 1-64 (default: the number of cores)' })),
  IMAGE_QUEUE_MAX: Type.Integer({ default: 32, minimum: 0, maximum: 10000, description: 'images waiting for processing before 503, 0-10000' }),
  S3_BUCKET: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$', description: 'an S3 bucket name' })),
  AWS_REGION: Type.String({ default: 'us-east-1', pattern: '^[a-z0-9-]+$', description: 'an AWS region such as eu-west-1' }),
  S3_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', description: 'an http(s) URL of an S3-compatible endpoint' })),
  S3_FORCE_PATH_STYLE: Type.Boolean({ default: false, description: 'true or false' }),
  S3_TIMEOUT_MS: Type.Integer({ default: 10_000, minimum: 100, maximum: 300_000, description: 'milliseconds, 100-300000' }),
  MEDIA_RETRY_INTERVAL_MS: Type.Integer({ default: 60_000, minimum: 0, maximum: 86_400_000, description: 'milliseconds between retries of failed deletions (0 disables the loop)' }),
  METRICS_TOKEN: Type.Optional(Type.String({ minLength: 16, maxLength: 1024, pattern: '^[\\x21-\\x7e]+$', description: 'at least 16 printable characters: the bearer token of GET /metrics (unset: no metrics endpoint)' })),
  ADMIN_PASSWORD: Type.Optional(Type.String({ minLength: 8, maxLength: 1024, description: '8-1024 characters' }))
})
type Env = Static<typeof Env>

export interface Config {
  env: Env['NODE_ENV']
  host: string
  port: number
  /** External base URL without a trailing slash; absolute links are built from it. */
  publicUrl: string
  logLevel: string
  databaseUrl: string | undefined
  databasePoolMax: number
  /** The longest a database connection attempt, statement or transaction may take. */
  databaseTimeoutMs: number
  dataDir: string
  /** Undefined only outside production, where a per-folder secret is generated (see secrets.ts). */
  jwtSecret: string | undefined
  jwtExpiresInSeconds: number
  /** How long a session lasts without a refresh: each refresh moves its end on. */
  refreshExpiresInSeconds: number
  sessionsPruneIntervalMs: number
  allowRegistration: boolean
  corsOrigins: string[] | '*' | false
  trustProxy: boolean | number | string[]
  rateLimits: RateLimitConfig
  http: HttpLimits
  adminPassword: string | undefined
  /** The bearer token of `GET /metrics`; without one the endpoint does not exist. */
  metricsToken: string | undefined
  media: MediaConfig
}

export interface RateLimitConfig {
  /** Per minute, per address and per account. */
  login: number
  /** Per hour, per address. */
  register: number
  /** Per minute, all addresses together. */
  registerGlobal: number
}

export interface HttpLimits {
  requestTimeoutMs: number
  headersTimeoutMs: number
  keepAliveTimeoutMs: number
  bodyMinBytesPerSecond: number
  /** How long a CDN may serve a public read before asking again (see plugins/http-caching.ts). */
  cacheMaxAgeSeconds: number
}

export interface MediaConfig {
  driver: 'local' | 's3'
  root: string
  prefix: string
  /** Absolute URL that names relative to the prefix are appended to; always ends with a slash. */
  baseUrl: string
  maxBytes: number
  maxPixels: number
  maxSide: number
  processTimeoutMs: number
  /** The resized copies made of every still image. */
  variants: VariantOptions
  /** Upload bodies admitted at once may together hold this many bytes. */
  memoryBudgetBytes: number
  uploadsPerAddress: number
  concurrency: number
  queueMax: number
  retryIntervalMs: number
  s3: { bucket: string; region: string; endpoint: string | undefined; forcePathStyle: boolean; timeoutMs: number } | undefined
}

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** Reads an optional `.env` in the working folder; variables already set in the environment win. */
export function readEnvironment(cwd = process.cwd()): Record<string, string | undefined> {
  const file = `${cwd}/.env`
  const fromFile = existsSync(file) ? parseEnv(readFileSync(file, 'utf8')) : {}
  return { ...fromFile, ...process.env }
}

/** Validates the environment; throws a ConfigError whose message is one line naming the variable. */
export function loadConfig(raw: Record<string, string | undefined>): Config {
  const env = parseEnvironment(raw)
  if (env.NODE_ENV === 'production' && env.JWT_SECRET === undefined) {
    throw new ConfigError('JWT_SECRET is required when NODE_ENV=production (at least 32 characters)')
  }
  const publicUrl = (env.PUBLIC_URL ?? `http://localhost:${env.PORT}`).replace(/\/+$/, '')
  return {
    env: env.NODE_ENV,
    host: env.HOST,
    port: env.PORT,
    publicUrl,
    logLevel: env.LOG_LEVEL,
    databaseUrl: env.DATABASE_URL,
    databasePoolMax: env.DATABASE_POOL_MAX,
    databaseTimeoutMs: env.DATABASE_TIMEOUT_MS,
    dataDir: env.DATA_DIR,
    jwtSecret: env.JWT_SECRET,
    jwtExpiresInSeconds: parseDuration(env.JWT_EXPIRES_IN),
    refreshExpiresInSeconds: parseDuration(env.REFRESH_EXPIRES_IN),
    sessionsPruneIntervalMs: env.SESSIONS_PRUNE_INTERVAL_MS,
    allowRegistration: env.ALLOW_REGISTRATION,
    corsOrigins: parseOrigins(env.CORS_ORIGINS),
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    rateLimits: { login: env.LOGIN_RATE_LIMIT, register: env.REGISTER_RATE_LIMIT, registerGlobal: env.REGISTER_RATE_LIMIT_GLOBAL },
    http: {
      requestTimeoutMs: env.REQUEST_TIMEOUT_MS,
      headersTimeoutMs: env.HEADERS_TIMEOUT_MS,
      keepAliveTimeoutMs: env.KEEP_ALIVE_TIMEOUT_MS,
      bodyMinBytesPerSecond: env.BODY_MIN_BYTES_PER_SECOND,
      cacheMaxAgeSeconds: env.HTTP_CACHE_MAX_AGE
    },
    adminPassword: env.ADMIN_PASSWORD,
    metricsToken: env.METRICS_TOKEN,
    media: mediaConfig(env, publicUrl)
  }
}

/** The app's own /media/ for local files; the bucket's public URL (path-style on a custom endpoint) for S3. */
function defaultMediaBaseUrl(driver: 'local' | 's3', env: Env, publicUrl: string): string {
  if (driver === 'local') return `${publicUrl}/media/`
  if (env.S3_ENDPOINT !== undefined) return `${env.S3_ENDPOINT.replace(/\/+$/, '')}/${env.S3_BUCKET}/${env.MEDIA_PREFIX}/`
  return `https://${env.S3_BUCKET}.s3.${env.AWS_REGION}.amazonaws.com/${env.MEDIA_PREFIX}/`
}

function mediaConfig(env: Env, publicUrl: string): MediaConfig {
  const driver = env.MEDIA_DRIVER ?? (env.S3_BUCKET === undefined ? 'local' : 's3')
  if (driver === 's3' && env.S3_BUCKET === undefined) throw new ConfigError('S3_BUCKET is required when MEDIA_DRIVER=s3')
  return {
    driver,
    // Local files sit beside the embedded database: {DATA_DIR}/{MEDIA_PREFIX}/post_images/...
    root: env.MEDIA_ROOT ?? env.DATA_DIR,
    prefix: env.MEDIA_PREFIX,
    baseUrl: (env.MEDIA_BASE_URL ?? defaultMediaBaseUrl(driver, env, publicUrl)).replace(/\/*$/, '/'),
    maxBytes: env.MEDIA_MAX_BYTES,
    maxPixels: env.MEDIA_MAX_PIXELS,
    maxSide: env.MEDIA_MAX_SIDE,
    processTimeoutMs: env.MEDIA_PROCESS_TIMEOUT_MS,
    variants: { widths: env.MEDIA_VARIANT_WIDTHS === '' ? [] : env.MEDIA_VARIANT_WIDTHS.split(',').map(Number), format: env.MEDIA_VARIANT_FORMAT },
    memoryBudgetBytes: env.MEDIA_MEMORY_BUDGET_MB * 1024 * 1024,
    uploadsPerAddress: env.MEDIA_UPLOADS_PER_ADDRESS,
    concurrency: env.IMAGE_CONCURRENCY ?? Math.max(1, availableParallelism()),
    queueMax: env.IMAGE_QUEUE_MAX,
    retryIntervalMs: env.MEDIA_RETRY_INTERVAL_MS,
    s3:
      driver === 's3' && env.S3_BUCKET !== undefined
        ? { bucket: env.S3_BUCKET, region: env.AWS_REGION, endpoint: env.S3_ENDPOINT, forcePathStyle: env.S3_FORCE_PATH_STYLE, timeoutMs: env.S3_TIMEOUT_MS }
        : undefined
  }
}

// Their values may hold passwords: an error message (and so a log) never repeats them.
const SECRET_VARIABLES = new Set(['DATABASE_URL', 'JWT_SECRET', 'ADMIN_PASSWORD', 'METRICS_TOKEN', 'S3_ENDPOINT', 'MEDIA_BASE_URL'])

// Set but empty, these mean "none" rather than "the default".
const EMPTY_MEANS_NONE = new Set(['MEDIA_VARIANT_WIDTHS'])

function parseEnvironment(raw: Record<string, string | undefined>): Env {
  // Only the variables the schema knows are read; empty strings are unset.
  const known: Record<string, unknown> = {}
  for (const name of Object.keys(Env.properties)) {
    const value = raw[name]?.trim()
    if (value !== undefined && (value !== '' || EMPTY_MEANS_NONE.has(name))) known[name] = value
  }
  const candidate = Value.Convert(Env, Value.Default(Env, known))
  if (Value.Check(Env, candidate)) return candidate
  const error = Value.Errors(Env, candidate).First()
  const name = error?.path.split('/')[1] ?? '(environment)'
  const schemas: Record<string, TSchema> = Env.properties
  const given = known[name] === undefined ? 'it is not set' : SECRET_VARIABLES.has(name) ? 'the value is not shown' : `got ${JSON.stringify(raw[name])}`
  throw new ConfigError(`${name} is invalid: expected ${schemas[name]?.description ?? error?.message ?? 'a valid value'}; ${given}`)
}

const durationUnits: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 }

function parseDuration(text: string): number {
  const unit = text.at(-1) ?? 's'
  const factor = durationUnits[unit]
  return factor === undefined ? Number(text) : Number(text.slice(0, -1)) * factor
}

function parseOrigins(text: string): Config['corsOrigins'] {
  if (text === '') return false
  if (text === '*') return '*'
  return text.split(',').map((origin) => origin.trim())
}

function parseTrustProxy(text: string): Config['trustProxy'] {
  if (text === 'true') return true
  if (text === 'false') return false
  if (/^[0-9]+$/.test(text)) return Number(text)
  return text.split(',').map((address) => address.trim())
}
