import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Config } from '../config.js'
import { errorCode } from '../errors/guards.js'

/**
 * Outside production a missing JWT_SECRET is generated once into the data folder, so
 * tokens keep working across restarts of a development server. Production refuses to
 * start without one (see config.ts): a generated secret would differ between instances.
 */
export function withJwtSecret(config: Config): Config & { jwtSecret: string } {
  if (config.jwtSecret !== undefined) return { ...config, jwtSecret: config.jwtSecret }
  const file = join(config.dataDir, 'jwt-secret')
  mkdirSync(config.dataDir, { recursive: true })
  try {
    writeFileSync(file, randomBytes(48).toString('base64url'), { flag: 'wx', mode: 0o600 })
  } catch (error) {
    if (errorCode(error) !== 'EEXIST') throw error
  }
  return { ...config, jwtSecret: readFileSync(file, 'utf8').trim() }
}
