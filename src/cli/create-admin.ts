import { createInterface } from 'node:readline'
import { Writable } from 'node:stream'
import { parseArgs } from 'node:util'
import { openDatabase } from '../db/client.js'
import { migrateDatabase } from '../db/migrate.js'
import { loadConfig, readEnvironment } from '../config.js'
import { ensureAdmin } from '../modules/auth/admins.js'
import { runCommand, CommandError } from './run.js'

const usage = 'usage: npm run create-admin -- --username NAME [--email EMAIL]  (password from ADMIN_PASSWORD or typed at the prompt)'

/** Reads a line from the terminal without echoing it. */
function askHidden(question: string): Promise<string> {
  if (!process.stdin.isTTY) {
    return Promise.reject(new CommandError('No terminal to type a password on: set ADMIN_PASSWORD'))
  }
  // readline echoes what is typed to its output: here an output that writes nothing.
  const silent = new Writable({ write: (_chunk, _encoding, done) => done() })
  const rl = createInterface({ input: process.stdin, output: silent, terminal: true })
  process.stdout.write(question)
  return new Promise((resolve) => {
    rl.question('', (answer) => {
      rl.close()
      process.stdout.write('\n')
      resolve(answer)
    })
  })
}

async function typedPassword(): Promise<string> {
  const first = await askHidden('Password: ')
  const second = await askHidden('Password (again): ')
  if (first !== second) throw new CommandError('The passwords do not match')
  return first
}

runCommand(async () => {
  const { values } = parseArgs({ options: { username: { type: 'string' }, email: { type: 'string' } } })
  if (values.username === undefined) throw new CommandError(usage)
  const config = loadConfig(readEnvironment())
  const database = openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolMax: 1, timeoutMs: config.databaseTimeoutMs })
  try {
    await migrateDatabase(database)
    const { user, action } = await ensureAdmin(database.db, {
      username: values.username,
      email: values.email,
      password: async () => config.adminPassword ?? (await typedPassword())
    })
    return `Admin ${user.username} (id ${user.id}) ${action}`
  } finally {
    await database.close()
  }
})
