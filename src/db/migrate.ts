import { fileURLToPath } from 'node:url'
import type { Database } from './client.js'

/** `drizzle/` at the project root, from both `src/db` and the compiled `dist/db`. */
export const migrationsFolder = fileURLToPath(new URL('../../drizzle', import.meta.url))

export async function migrateDatabase(database: Database): Promise<void> {
  await database.migrate(migrationsFolder)
}
