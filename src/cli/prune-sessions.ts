import { openDatabase } from '../db/client.js'
import { migrateDatabase } from '../db/migrate.js'
import { loadConfig, readEnvironment } from '../config.js'
import { pruneSessions } from '../modules/auth/sessions.js'
import { runCommand } from './run.js'

/** Deletes ended sessions now, the way the servers' background loop does every hour. */
runCommand(async () => {
  const config = loadConfig(readEnvironment())
  const database = openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolMax: 1, timeoutMs: config.databaseTimeoutMs })
  try {
    await migrateDatabase(database)
    return `Deleted ${await pruneSessions(database.db)} ended session(s)`
  } finally {
    await database.close()
  }
})
