import { openDatabase } from '../db/client.js'
import { migrateDatabase } from '../db/migrate.js'
import { loadConfig, readEnvironment } from '../config.js'
import { backfillImageInfo } from '../media/backfill.js'
import { readBack } from '../media/check.js'
import { configuredNormalizer, createStore } from '../media/configured-store.js'
import { commandLog, runCommand } from './run.js'

/**
 * Gives images stored before the service kept their info (rows with an image and no
 * `*_info`) their info and variants. Safe beside running servers and safe to run again:
 * what failed is left as it was and tried again by the next run.
 */
runCommand(async () => {
  const config = loadConfig(readEnvironment())
  const database = openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolMax: 2, timeoutMs: config.databaseTimeoutMs })
  const store = createStore(config.media)
  const context = { db: database.db, transaction: database.transaction, store, log: commandLog, normalize: configuredNormalizer(config.media).normalize }
  try {
    await migrateDatabase(database)
    const smallestWidth = config.media.variants.widths.length > 0 ? Math.min(...config.media.variants.widths) : undefined
    const result = await backfillImageInfo(context, (name) => readBack(store, config.media, name), { smallestWidth })
    if (result.failed.length > 0) process.exitCode = 1
    const failed = result.failed.map((failure) => `\n  ${failure.name}: ${failure.error}`).join('')
    const unchanged = result.unchanged > 0 ? `; ${result.unchanged} take no variants (animated)` : ''
    return `Gave ${result.filled} image(s) their info and variants; ${result.skipped} changed meanwhile and need none${unchanged}; ${result.failed.length} failed${failed}`
  } finally {
    await database.close()
  }
})
