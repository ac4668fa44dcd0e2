import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { buildApp, type AppConfig, type BuildOptions } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { logIn } from '../../src/modules/auth/tokens.js'
import { createUser } from '../../src/modules/auth/users.js'
import { testStorage } from './database.js'

interface TapLike {
  teardown(fn: () => unknown): void
}

export const TEST_SECRET = 'test-secret-that-is-at-least-32-characters-long'

/** A config for tests: quiet logs, its own data folder and, on CI, its own PostgreSQL database. */
export async function testConfig(t: TapLike, env: Record<string, string> = {}): Promise<AppConfig> {
  const storage = await testStorage(t, 'api-test')
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    ...storage.env,
    MEDIA_ROOT: join(storage.dataDir, 'media-root'),
    MEDIA_RETRY_INTERVAL_MS: '0',
    // Tests register many users from one address; the limits have tests of their own.
    REGISTER_RATE_LIMIT: '10000',
    REGISTER_RATE_LIMIT_GLOBAL: '10000',
    JWT_SECRET: TEST_SECRET,
    ...env
  })
  return { ...config, jwtSecret: TEST_SECRET }
}

export interface TestAppOptions extends BuildOptions {
  /** Runs before the app is ready: the place to add routes that only a test needs. */
  beforeReady?: (app: FastifyInstance) => void
}

export async function buildTestApp(t: TapLike, env: Record<string, string> = {}, options: TestAppOptions = {}): Promise<FastifyInstance> {
  return (await buildTestAppWithConfig(t, env, options)).app
}

export async function buildTestAppWithConfig(t: TapLike, env: Record<string, string> = {}, options: TestAppOptions = {}) {
  const config = await testConfig(t, env)
  const app = await buildApp(config, options)
  options.beforeReady?.(app)
  // Either teardown order works: the test database is dropped WITH (FORCE).
  t.teardown(() => app.close())
  await app.ready()
  return { app, config }
}

export interface TestUser {
  id: number
  username: string
  token: string
  auth: { authorization: string }
}

let counter = 0

/** A user created straight in the database, with a token, so tests need not log in each time. */
export async function createTestUser(app: FastifyInstance, options: { admin?: boolean; username?: string } = {}): Promise<TestUser> {
  counter += 1
  const username = options.username ?? `user${counter}_${process.pid}`
  const row = await createUser(app.db, { username, email: `${username}@example.com`, password: 'password123', isAdmin: options.admin ?? false })
  const token = (await logIn(app, row, { userAgent: 'test', address: '127.0.0.1' }, { accessSeconds: 900, refreshSeconds: 86400 })).access_token
  return { id: row.id, username, token, auth: { authorization: `Bearer ${token}` } }
}
