import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { drizzle } from 'drizzle-orm/pglite'
import { migrate } from 'drizzle-orm/pglite/migrator'
import { StartupError } from '../errors/app-error.js'
import { errorCode } from '../errors/guards.js'
import type { Database, Db } from './client.js'

export function openPglite(dataDir: string): Database {
  const folder = join(dataDir, 'pglite')
  mkdirSync(folder, { recursive: true })
  const releaseLock = lockFolder(folder)
  const client = new PGlite(folder)
  const db: Db = drizzle(client)
  return {
    db,
    driver: 'pglite',
    // In-process: no connection to lose, so a transaction's outcome is always known.
    transaction: (work) => db.transaction(work),
    // The folder lock makes this process the only user: there is nobody to race.
    migrate: (migrationsFolder) => migrate(drizzle(client), { migrationsFolder }),
    close: () => client.close().finally(releaseLock)
  }
}

/**
 * PGlite files opened by two processes at once get corrupted (a running server and
 * `create-admin`, say), so the first process to open a folder owns it until it closes.
 */
function lockFolder(folder: string): () => void {
  const lock = join(folder, '..', 'pglite.pid')
  try {
    writeFileSync(lock, String(process.pid), { flag: 'wx' })
  } catch (error) {
    if (errorCode(error) !== 'EEXIST') throw error
    const owner = Number(readFileSync(lock, 'utf8'))
    if (isAlive(owner)) {
      throw new StartupError(
        `The embedded database in ${folder} is in use by process ${owner} (a running server?). Stop it first, or set DATABASE_URL to use PostgreSQL. If no such process runs, delete ${lock}.`
      )
    }
    writeFileSync(lock, String(process.pid)) // left by a process that died
  }
  return () => rmSync(lock, { force: true })
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return errorCode(error) === 'EPERM'
  }
}
