import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { NodeHttpHandler } from '@smithy/node-http-handler'
import { withTimeout } from '../lib/timeout.js'
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

export function createS3Store(options: S3StoreOptions, client = createS3Client(options)): MediaStore {
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
