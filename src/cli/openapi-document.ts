import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { buildApp } from '../app.js'
import { loadConfig } from '../config.js'
import { openApiYaml } from '../plugins/openapi.js'

/**
 * The committed `openapi.yaml` is the document of an app on default settings, so it does not
 * change with whoever generates it; a running server publishes its own with its PUBLIC_URL.
 */
export async function defaultOpenApiYaml(): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'openapi-'))
  const config = loadConfig({ LOG_LEVEL: 'silent', DATA_DIR: dataDir })
  const app = await buildApp({ ...config, jwtSecret: randomBytes(32).toString('hex') })
  try {
    await app.ready()
    return openApiYaml(app)
  } finally {
    await app.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}
