import { openDatabase } from '../db/client.js'
import { migrateDatabase } from '../db/migrate.js'
import { loadConfig, readEnvironment } from '../config.js'
import { retryFailedDeletions } from '../media/lifecycle.js'
import { createStore } from '../media/configured-store.js'
import { commandLog, runCommand } from './run.js'

/** Works through every due deletion now, batch after batch, the way the servers' background loop would. */
runCommand(async () => {
  const config = loadConfig(readEnvironment())
  const database = openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolMax: 1, timeoutMs: config.databaseTimeoutMs })
  const context = { db: database.db, transaction: database.transaction, store: createStore(config.media), log: commandLog }
  try {
    await migrateDatabase(database)
    const total = { deleted: 0, failed: 0, kept: 0 }
    for (;;) {
      const batch = await retryFailedDeletions(context)
      total.deleted += batch.deleted
      total.failed += batch.failed
      total.kept += batch.kept
      // Failed rows move into the future, so a batch with no success means nothing more is due.
      if (batch.deleted + batch.kept === 0) break
    }
    const kept = total.kept > 0 ? `; ${total.kept} object(s) kept because a row still names them` : ''
    return `Deleted ${total.deleted} object(s); ${total.failed} deletion(s) failed and stay scheduled${kept}`
  } finally {
    await database.close()
  }
})
