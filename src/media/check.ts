import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import sharp from 'sharp'
import type { MediaConfig } from '../config.js'
import { localMediaFolder } from './local.js'
import { newMediaName, type MediaStore } from './store.js'

export interface CheckStep {
  ok: boolean
  line: string
}

/** What an S3 error most likely means, in the words of the policy that would fix it. */
function explain(error: unknown, action: string, config: MediaConfig): string {
  const name = error instanceof Error ? error.name : ''
  const resource = `arn:aws:s3:::${config.s3?.bucket}/${config.prefix}/*`
  if (name === 'AccessDenied') return `access denied: the app's IAM policy probably lacks ${action} on ${resource}`
  if (['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'CredentialsProviderError', 'ExpiredToken'].includes(name)) {
    return `the credentials were refused (${name}): check the environment, profile or role the SDK picks up`
  }
  if (name === 'NoSuchBucket') return `the bucket ${config.s3?.bucket} does not exist (check S3_BUCKET, AWS_REGION, S3_ENDPOINT)`
  if (name === 'PermanentRedirect') return `the bucket is in another region: set AWS_REGION to the bucket's region`
  return `${name || 'error'}: ${error instanceof Error ? error.message : String(error)} (is S3_ENDPOINT reachable?)`
}

/** A stored object read back the way browsers read it: through MEDIA_BASE_URL (local files from disk). */
export async function readBack(store: MediaStore, config: MediaConfig, name: string): Promise<Buffer> {
  if (store.kind === 'local') return readFile(join(localMediaFolder(config), name))
  const response = await fetch(store.url(name), { signal: AbortSignal.timeout(config.s3?.timeoutMs ?? 10_000) })
  if (!response.ok) throw new Error(`HTTP ${response.status}`)
  return Buffer.from(await response.arrayBuffer())
}

/**
 * Puts a probe image under the prefix, reads it back the way browsers will (through
 * MEDIA_BASE_URL), and deletes it: each step says which permission it proves.
 */
export async function checkStorage(store: MediaStore, config: MediaConfig): Promise<CheckStep[]> {
  const probe = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#fff' } }).png().toBuffer()
  const name = newMediaName('storage_check', 'png')
  const steps: CheckStep[] = []
  try {
    await store.put(name, probe, 'image/png')
    steps.push({ ok: true, line: `put ${config.prefix}/${name} (s3:PutObject)` })
  } catch (error) {
    return [{ ok: false, line: `put failed: ${explain(error, 's3:PutObject', config)}` }]
  }
  try {
    const body = await readBack(store, config, name)
    if (!body.equals(probe)) throw new Error('the bytes read back differ from the bytes written')
    steps.push({ ok: true, line: `read back from ${store.kind === 'local' ? 'disk' : store.url(name)} (public read)` })
  } catch (error) {
    steps.push({ ok: false, line: `read back failed (${error instanceof Error ? error.message : String(error)}): the bucket policy probably lacks public s3:GetObject on ${config.prefix}/*, or MEDIA_BASE_URL does not point at the bucket` })
  }
  try {
    await store.delete(name)
    steps.push({ ok: true, line: `deleted ${config.prefix}/${name} (s3:DeleteObject)` })
  } catch (error) {
    steps.push({ ok: false, line: `delete failed: ${explain(error, 's3:DeleteObject', config)}; remove ${config.prefix}/${name} by hand` })
  }
  return steps
}
