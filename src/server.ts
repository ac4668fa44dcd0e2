import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { ConfigError, loadConfig, readEnvironment } from './config.js'
import { isDatabaseUnavailable } from './db/errors.js'
import { StartupError } from './errors/app-error.js'
import { withJwtSecret } from './lib/jwt-secret.js'

async function main() {
  const config = withJwtSecret(loadConfig(readEnvironment()))
  const app = await buildApp(config)
  // In-flight requests get this long to finish after SIGTERM/SIGINT before the process exits.
  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an error')
    else app.log.info({ signal }, 'shutting down')
    await app.close()
  })
  await app.listen({ host: config.host, port: config.port })
}

main().catch((error: unknown) => {
  // Problems an operator can fix are one clear line, not a stack trace.
  if (error instanceof ConfigError) console.error(`Configuration error: ${error.message}`)
  else if (error instanceof StartupError) console.error(`Cannot start: ${error.message}`)
  else if (isDatabaseUnavailable(error)) console.error(`Cannot reach the database: ${error instanceof Error ? error.message : String(error)}`)
  else console.error(error)
  process.exit(1)
})
