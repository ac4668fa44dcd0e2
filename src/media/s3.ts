import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { NodeHttpHandler } from '@smithy/node-http-handler'
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

export function createS3Client(options: S3StoreOptions): S3Client {
  return new S3Client({
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    forcePathStyle: options.forcePathStyle,
    // The SDK's default CRC32 trailers (aws-chunked bodies) are stored corrupted by some
    // S3-compatible servers and refused by others; checksums only where S3 demands them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // A store that hangs must become a 503 in bounded time, not a request stuck forever.
    requestHandler: new NodeHttpHandler({ connectionTimeout: options.timeoutMs, requestTimeout: options.timeoutMs }),
    maxAttempts: 2
    // Credentials: the SDK's default provider chain (environment, profile, container or instance role).
  })
}

export function createS3Store(options: S3StoreOptions, client = createS3Client(options)): MediaStore {
  const key = (name: string) => {
    assertMediaName(name)
    return `${options.prefix}/${name}`
  }
  return {
    kind: 's3',
    async put(name, body, contentType) {
      // No ACL: public reads are the bucket policy's job (docs/iam/bucket-policy.json).
      await client.send(new PutObjectCommand({ Bucket: options.bucket, Key: key(name), Body: body, ContentType: contentType, CacheControl: IMMUTABLE_CACHE_CONTROL }))
    },
    async delete(name) {
      await client.send(new DeleteObjectCommand({ Bucket: options.bucket, Key: key(name) }))
    },
    url: (name) => `${options.baseUrl}${name}`,
    async check() {
      // Deleting an absent object needs only s3:DeleteObject on the prefix, which the app has;
      // HeadBucket would need s3:ListBucket, which least privilege leaves out.
      await client.send(new DeleteObjectCommand({ Bucket: options.bucket, Key: `${options.prefix}/.readiness-probe` }))
    }
  }
}
