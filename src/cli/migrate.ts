import { openDatabase } from '../db/client.js'
import { migrateDatabase } from '../db/migrate.js'
import { loadConfig, readEnvironment } from '../config.js'
import { runCommand } from './run.js'

runCommand(async () => {
  const config = loadConfig(readEnvironment())
  const database = openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolMax: 1, timeoutMs: config.databaseTimeoutMs })
  try {
    await migrateDatabase(database)
    return `Migrations applied (${database.driver})`
  } finally {
    await database.close()
  }
})
