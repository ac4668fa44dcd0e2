import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ConfigError, loadConfig, readEnvironment } from '../src/config.js'
import { withJwtSecret } from '../src/lib/jwt-secret.js'

t.test('defaults make a working development configuration', async (t) => {
  const config = loadConfig({})
  t.equal(config.env, 'development')
  t.equal(config.host, '127.0.0.1')
  t.equal(config.port, 3000)
  t.equal(config.publicUrl, 'http://localhost:3000')
  t.equal(config.databaseUrl, undefined)
  t.equal(config.dataDir, './data')
  t.equal(config.jwtExpiresInSeconds, 900)
  t.equal(config.refreshExpiresInSeconds, 30 * 86400)
  t.equal(config.allowRegistration, true)
  t.equal(config.corsOrigins, false)
  t.equal(config.trustProxy, false)
  t.equal(config.databaseTimeoutMs, 5000)
})

t.test('values are converted from their text form', async (t) => {
  const config = loadConfig({
    PORT: '8080',
    PUBLIC_URL: 'https://api.example.com/',
    JWT_EXPIRES_IN: '15m',
    ALLOW_REGISTRATION: 'false',
    CORS_ORIGINS: 'https://a.example.com, https://b.example.com',
    TRUST_PROXY: '2',
    DATABASE_URL: 'postgres://u@db/app',
    DATABASE_TIMEOUT_MS: '2500',
    UNRELATED: 'ignored'
  })
  t.equal(config.port, 8080)
  t.equal(config.publicUrl, 'https://api.example.com', 'trailing slash dropped')
  t.equal(config.jwtExpiresInSeconds, 900)
  t.equal(config.allowRegistration, false)
  t.same(config.corsOrigins, ['https://a.example.com', 'https://b.example.com'])
  t.equal(config.trustProxy, 2)
  t.equal(config.databaseUrl, 'postgres://u@db/app')
  t.equal(config.databaseTimeoutMs, 2500)
  t.equal(loadConfig({ CORS_ORIGINS: '*' }).corsOrigins, '*')
  t.equal(loadConfig({ TRUST_PROXY: 'true' }).trustProxy, true)
  t.same(loadConfig({ TRUST_PROXY: '10.0.0.0/8,127.0.0.1' }).trustProxy, ['10.0.0.0/8', '127.0.0.1'])
  t.equal(loadConfig({ JWT_EXPIRES_IN: '7d' }).jwtExpiresInSeconds, 7 * 86400)
  t.equal(loadConfig({ JWT_EXPIRES_IN: '600' }).jwtExpiresInSeconds, 600)
  t.equal(loadConfig({ PORT: '' }).port, 3000, 'an empty value counts as unset')
  t.same(loadConfig({}).media.variants, { widths: [320, 640, 1280, 1920], format: 'webp' })
  t.same(loadConfig({ MEDIA_VARIANT_WIDTHS: ' ' }).media.variants.widths, [], 'set but empty: no variants')
  t.same(loadConfig({ MEDIA_VARIANT_WIDTHS: '800,400', MEDIA_VARIANT_FORMAT: 'avif' }).media.variants, { widths: [800, 400], format: 'avif' })
  t.throws(() => loadConfig({ MEDIA_VARIANT_WIDTHS: '0,100' }), /MEDIA_VARIANT_WIDTHS/)
})

t.test('a bad value is one line naming the variable and what is expected', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: 'abc' }, /^PORT is invalid: expected TCP port, 0-65535; got "abc"$/],
    [{ PORT: '70000' }, /^PORT is invalid/],
    [{ NODE_ENV: 'staging' }, /^NODE_ENV is invalid: expected development, production or test/],
    [{ JWT_SECRET: 'short' }, /^JWT_SECRET is invalid: expected at least 32 characters; the value is not shown$/],
    [{ DATABASE_URL: 'mysql://user:hunter2@db/x' }, /^DATABASE_URL is invalid: expected a postgres:\/\/ URL; the value is not shown$/],
    [{ METRICS_TOKEN: 'short' }, /^METRICS_TOKEN is invalid: expected at least 16 printable characters.*; the value is not shown$/],
    [{ MEDIA_DRIVER: 'ftp' }, /^MEDIA_DRIVER is invalid: expected local or s3/],
    [{ MEDIA_MAX_BYTES: '10' }, /^MEDIA_MAX_BYTES is invalid/],
    [{ S3_BUCKET: 'Bad_Bucket' }, /^S3_BUCKET is invalid: expected an S3 bucket name/],
    [{ MEDIA_PREFIX: '../up' }, /^MEDIA_PREFIX is invalid/],
    [{ MEDIA_DRIVER: 's3' }, /^S3_BUCKET is required when MEDIA_DRIVER=s3$/],
    [{ JWT_EXPIRES_IN: '1y' }, /^JWT_EXPIRES_IN is invalid/],
    [{ ALLOW_REGISTRATION: 'maybe' }, /^ALLOW_REGISTRATION is invalid: expected true or false/],
    [{ CORS_ORIGINS: 'not an origin' }, /^CORS_ORIGINS is invalid/],
    [{ PUBLIC_URL: 'ftp://x' }, /^PUBLIC_URL is invalid/],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL is invalid/],
    [{ DATABASE_TIMEOUT_MS: '50' }, /^DATABASE_TIMEOUT_MS is invalid: expected milliseconds, 100-600000; got "50"$/]
  ]
  for (const [env, message] of cases) {
    t.throws(() => loadConfig(env), { name: 'ConfigError', message }, JSON.stringify(env))
  }
})

t.test('production requires a long JWT secret', async (t) => {
  t.throws(() => loadConfig({ NODE_ENV: 'production' }), new ConfigError('JWT_SECRET is required when NODE_ENV=production (at least 32 characters)'))
  const config = loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32) })
  t.equal(config.jwtSecret, 'x'.repeat(32))
})

t.test('an optional .env file is read, and the environment wins over it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'env-'))
  writeFileSync(join(dir, '.env'), 'PORT=4001\nHOST=0.0.0.0\n')
  process.env.HOST = '10.1.2.3'
  t.teardown(() => delete process.env.HOST)
  const config = loadConfig(readEnvironment(dir))
  t.equal(config.port, 4001)
  t.equal(config.host, '10.1.2.3')
  t.equal(loadConfig(readEnvironment(join(dir, 'missing'))).port, 3000)
})

t.test('outside production a missing secret is generated once and kept in the data folder', async (t) => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'secret-')), 'nested')
  const first = withJwtSecret(loadConfig({ DATA_DIR: dataDir }))
  const second = withJwtSecret(loadConfig({ DATA_DIR: dataDir }))
  t.ok(first.jwtSecret.length >= 32)
  t.equal(second.jwtSecret, first.jwtSecret, 'the same secret after a restart')
  t.equal(readFileSync(join(dataDir, 'jwt-secret'), 'utf8'), first.jwtSecret)
  t.equal(statSync(join(dataDir, 'jwt-secret')).mode & 0o777, 0o600, 'readable by the owner only')
  t.equal(withJwtSecret(loadConfig({ DATA_DIR: dataDir, JWT_SECRET: 'y'.repeat(40) })).jwtSecret, 'y'.repeat(40))
})

t.test('media settings and their defaults', async (t) => {
  const local = loadConfig({ PORT: '4000' }).media
  t.match(local, { driver: 'local', root: './data', prefix: 'media', baseUrl: 'http://localhost:4000/media/', maxBytes: 10 * 1024 * 1024, maxPixels: 40_000_000, s3: undefined })
  t.match(local, { maxSide: 12_000, processTimeoutMs: 5000, memoryBudgetBytes: 128 * 1024 * 1024, uploadsPerAddress: 4 })
  t.ok(local.concurrency >= 1)
  t.equal(loadConfig({ MEDIA_MEMORY_BUDGET_MB: '64' }).media.memoryBudgetBytes, 64 * 1024 * 1024)
  t.throws(() => loadConfig({ MEDIA_MEMORY_BUDGET_MB: '1' }), /MEDIA_MEMORY_BUDGET_MB is invalid: expected megabytes of upload bodies held at once, 16-65536/)

  const aws = loadConfig({ S3_BUCKET: 'my-bucket', AWS_REGION: 'eu-west-1' }).media
  t.equal(aws.driver, 's3', 'a bucket selects S3')
  t.equal(aws.baseUrl, 'https://my-bucket.s3.eu-west-1.amazonaws.com/media/')
  t.same(aws.s3, { bucket: 'my-bucket', region: 'eu-west-1', endpoint: undefined, forcePathStyle: false, timeoutMs: 10_000 })

  const minio = loadConfig({ S3_BUCKET: 'bk1', S3_ENDPOINT: 'http://minio:9000/', S3_FORCE_PATH_STYLE: 'true', MEDIA_PREFIX: 'uploads' }).media
  t.equal(minio.baseUrl, 'http://minio:9000/bk1/uploads/')

  t.equal(loadConfig({ S3_BUCKET: 'bk1', MEDIA_BASE_URL: 'https://cdn.example.com/m' }).media.baseUrl, 'https://cdn.example.com/m/', 'with or without a trailing slash')
  t.equal(loadConfig({ S3_BUCKET: 'bk1', MEDIA_DRIVER: 'local' }).media.s3, undefined, 'the driver can be forced')
})

t.test('connection deadlines and rate limits and their defaults', async (t) => {
  const config = loadConfig({})
  t.same(config.http, { requestTimeoutMs: 120_000, headersTimeoutMs: 10_000, keepAliveTimeoutMs: 72_000, bodyMinBytesPerSecond: 4096, cacheMaxAgeSeconds: 0 })
  t.same(config.rateLimits, { login: 10, register: 10, registerGlobal: 60 })
  t.same(loadConfig({ REGISTER_RATE_LIMIT: '3', REGISTER_RATE_LIMIT_GLOBAL: '7', LOGIN_RATE_LIMIT: '5' }).rateLimits, { login: 5, register: 3, registerGlobal: 7 })
  t.equal(loadConfig({ BODY_MIN_BYTES_PER_SECOND: '0' }).http.bodyMinBytesPerSecond, 0, '0 turns the floor off')
  t.throws(() => loadConfig({ REQUEST_TIMEOUT_MS: '10' }), /REQUEST_TIMEOUT_MS is invalid/)
})

t.test('.env.example and the README list every variable', async (t) => {
  const example = readFileSync(new URL('../.env.example', import.meta.url), 'utf8')
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  for (const name of ['MEDIA_MAX_SIDE', 'MEDIA_PROCESS_TIMEOUT_MS', 'MEDIA_MEMORY_BUDGET_MB', 'MEDIA_UPLOADS_PER_ADDRESS', 'REQUEST_TIMEOUT_MS', 'HEADERS_TIMEOUT_MS', 'KEEP_ALIVE_TIMEOUT_MS', 'BODY_MIN_BYTES_PER_SECOND', 'HTTP_CACHE_MAX_AGE', 'REGISTER_RATE_LIMIT', 'REGISTER_RATE_LIMIT_GLOBAL']) {
    t.match(example, new RegExp(`^${name}=`, 'm'), `${name} in .env.example`)
    t.match(readme, `| \`${name}\` |`, `${name} in the README's table`)
  }
})
