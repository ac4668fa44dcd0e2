import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { NodeHttpHandler } from '@smithy/node-http-handler'
import { errorCode } from '../errors/guards.js'
import { withTimeout } from '../lib/timeout.js'
import type { StoreObserver } from '../metrics/instruments.js'
import { assertMediaName, IMMUTABLE_CACHE_CONTROL, type MediaStore } from './store.js'

export interface S3StoreOptions {
  bucket: string
  region: string
  endpoint: string | undefined
  forcePathStyle: boolean
  timeoutMs: number
  prefix: string
  baseUrl: string
}

/** Tries per call: a second one rides out a dropped keep-alive connection. */
const MAX_ATTEMPTS = 2

export function createS3Client(options: S3StoreOptions): S3Client {
  return new S3Client({
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    forcePathStyle: options.forcePathStyle,
    // The SDK's default CRC32 trailers (aws-chunked bodies) are stored corrupted by some
    // S3-compatible servers and refused by others; checksums only where S3 demands them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // A store that hangs must become a 503 in bounded time, not a request stuck forever:
    // without throwOnRequestTimeout the request timeout only logs a warning.
    requestHandler: new NodeHttpHandler({ connectionTimeout: options.timeoutMs, requestTimeout: options.timeoutMs, throwOnRequestTimeout: true }),
    maxAttempts: MAX_ATTEMPTS
    // Credentials: the SDK's default provider chain (environment, profile, container or instance role).
  })
}

export function createS3Store(options: S3StoreOptions, observer?: StoreObserver, client = createS3Client(options)): MediaStore {
  if (observer) observeCalls(client, observer)
  const key = (name: string) => {
    assertMediaName(name)
    return `${options.prefix}/${name}`
  }
  // Every call, retries and backoff included, ends within its attempts' timeouts: the
  // signal aborts the SDK, and the race answers even if a stuck body write delays it.
  const total = options.timeoutMs * MAX_ATTEMPTS
  const bounded = <T>(call: (options: { abortSignal: AbortSignal }) => Promise<T>) => withTimeout(call({ abortSignal: AbortSignal.timeout(total) }), total + 500)
  return {
    kind: 's3',
    async put(name, body, contentType) {
      // No ACL: public reads are the bucket policy's job (docs/iam/bucket-policy.json).
      const command = new PutObjectCommand({ Bucket: options.bucket, Key: key(name), Body: body, ContentType: contentType, CacheControl: IMMUTABLE_CACHE_CONTROL })
      await bounded((call) => client.send(command, call))
    },
    async delete(name) {
      const command = new DeleteObjectCommand({ Bucket: options.bucket, Key: key(name) })
      await bounded((call) => client.send(command, call))
    },
    url: (name) => `${options.baseUrl}${name}`,
    async check() {
      // Deleting an absent object needs only s3:DeleteObject on the prefix, which the app has;
      // HeadBucket would need s3:ListBucket, which least privilege leaves out.
      const command = new DeleteObjectCommand({ Bucket: options.bucket, Key: `${options.prefix}/.readiness-probe` })
      await bounded((call) => client.send(command, call))
    }
  }
}

/** Times every command the client sends, retries included, and names how a failed one failed. */
function observeCalls(client: S3Client, observer: StoreObserver) {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = (context.commandName ?? 'unknown').replace(/Command$/, '')
      const started = performance.now()
      const seconds = () => (performance.now() - started) / 1000
      try {
        const output = await next(args)
        observer.called(operation, seconds(), undefined)
        return output
      } catch (error) {
        observer.called(operation, seconds(), failureOf(error))
        throw error
      }
    },
    { step: 'initialize', name: 'observeCalls' }
  )
}

/** A bounded name for how a call failed: the store's HTTP status, or no answer at all. */
function failureOf(error: unknown): string {
  const status = httpStatusOf(error)
  if (status !== undefined) return `http_${status}`
  // The SDK names a reset connection a TimeoutError too (to retry it): the errno decides first.
  const code = errorCode(error)
  if (code !== undefined) return code === 'ETIMEDOUT' ? 'timeout' : 'network'
  const name = error instanceof Error ? error.name : ''
  return name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'network'
}

function httpStatusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('$metadata' in error)) return undefined
  const metadata = error.$metadata
  if (typeof metadata !== 'object' || metadata === null || !('httpStatusCode' in metadata)) return undefined
  return typeof metadata.httpStatusCode === 'number' ? metadata.httpStatusCode : undefined
}
