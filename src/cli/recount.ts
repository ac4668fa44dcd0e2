import { openDatabase } from '../db/client.js'
import { recountLists } from '../db/counts.js'
import { migrateDatabase } from '../db/migrate.js'
import { loadConfig, readEnvironment } from '../config.js'
import { runCommand } from './run.js'

/** Recounts the lists' kept totals from the tables (see recountLists). */
runCommand(async () => {
  const config = loadConfig(readEnvironment())
  const database = openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolMax: 1, timeoutMs: config.databaseTimeoutMs })
  try {
    await migrateDatabase(database)
    const counts = await recountLists(database.db)
    return `Recounted: ${Object.entries(counts).map(([name, count]) => `${name} ${count}`).join(', ')}`
  } finally {
    await database.close()
  }
})
