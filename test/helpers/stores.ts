import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { buildTestAppWithConfig, type TestAppOptions } from './app.js'
import { startS3Server, type TestS3Server } from './s3.js'

interface TapLike {
  teardown(fn: () => unknown): void
}

export interface StoreUnderTest {
  kind: 'local' | 's3'
  app: FastifyInstance
  /** Stored names (relative to the prefix), as the store itself lists them. */
  names(): Promise<string[]>
  /** The real S3-protocol server, to stop and start it (S3 only). */
  s3?: TestS3Server
}

/** An app on the local store or on a real S3-protocol server; tests run the same checks on both. */
export async function appWithStore(t: TapLike, kind: 'local' | 's3', env: Record<string, string> = {}, options: TestAppOptions = {}): Promise<StoreUnderTest> {
  if (kind === 's3') {
    const s3 = await startS3Server(t)
    const { app } = await buildTestAppWithConfig(t, { ...s3.env, ...env }, options)
    const names = async () => (await s3.keys()).map((key) => key.replace(/^media\//, '')).filter((name) => !name.startsWith('.'))
    return { kind, app, names, s3 }
  }
  const { app, config } = await buildTestAppWithConfig(t, env, options)
  const folder = join(config.media.root, config.media.prefix)
  return { kind, app, names: async () => localNames(folder) }
}

/** The names under a local store's prefix folder (`covers/<uuid>.jpg`), sorted. */
export function localNames(folder: string): string[] {
  if (!existsSync(folder)) return []
  return readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => `${entry.parentPath.slice(folder.length + 1)}/${entry.name}`)
    .sort()
}

/** The stored name behind an absolute image URL. */
export const nameOf = (url: string | null) => (url === null ? null : url.split('/').slice(-2).join('/'))
