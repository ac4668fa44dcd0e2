import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import S3rver from 's3rver'

interface TapLike {
  teardown(fn: () => unknown): void
}

export const TEST_BUCKET = 'test-bucket'

// The app takes credentials from the SDK's default chain, as in production; s3rver checks
// the access key id (not the secret), so these are the values the test server expects.
process.env.AWS_ACCESS_KEY_ID = 'S3RVER'
process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER'

export interface TestS3Server {
  endpoint: string
  /** The environment that points the app at this server. */
  env: Record<string, string>
  client: S3Client
  keys(): Promise<string[]>
  head(key: string): Promise<{ contentType?: string; cacheControl?: string; length?: number }>
  get(key: string): Promise<Buffer>
  /** Stops the server; `start` brings it back on the same port with the same objects. */
  stop(): Promise<void>
  start(): Promise<void>
}

/** A real S3-protocol server over HTTP, in this process, on a free port. */
export async function startS3Server(t: TapLike): Promise<TestS3Server> {
  const directory = mkdtempSync(join(tmpdir(), 's3rver-'))
  const create = (port: number) => new S3rver({ address: '127.0.0.1', port, silent: true, directory, configureBuckets: [{ name: TEST_BUCKET }] })
  let server = create(0)
  const { port } = await server.run()
  let running = true
  const endpoint = `http://127.0.0.1:${port}`
  const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' })
  const stop = async () => {
    if (running) await server.close()
    running = false
  }
  t.teardown(async () => {
    await stop()
    client.destroy()
    rmSync(directory, { recursive: true, force: true })
  })
  return {
    endpoint,
    env: { S3_BUCKET: TEST_BUCKET, S3_ENDPOINT: endpoint, S3_FORCE_PATH_STYLE: 'true', AWS_REGION: 'us-east-1', S3_TIMEOUT_MS: '2000' },
    client,
    async keys() {
      const listed = await client.send(new ListObjectsV2Command({ Bucket: TEST_BUCKET }))
      return (listed.Contents ?? []).map((object) => object.Key!).sort()
    },
    async head(key) {
      const head = await client.send(new HeadObjectCommand({ Bucket: TEST_BUCKET, Key: key }))
      return { contentType: head.ContentType, cacheControl: head.CacheControl, length: head.ContentLength }
    },
    async get(key) {
      const object = await client.send(new GetObjectCommand({ Bucket: TEST_BUCKET, Key: key }))
      return Buffer.from(await object.Body!.transformToByteArray())
    },
    stop,
    async start() {
      server = create(port)
      await server.run()
      running = true
    }
  }
}
