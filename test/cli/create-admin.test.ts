import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { testStorage } from '../helpers/database.js'
import { projectRoot, runScript } from '../helpers/process.js'
import { buildTestApp } from '../helpers/app.js'
import { ensureAdmin } from '../../src/modules/auth/admins.js'
import { findUserByUsername } from '../../src/modules/auth/users.js'

const password = async () => 'admin password'

t.test('ensureAdmin creates, promotes, and leaves admins alone', async (t) => {
  const app = await buildTestApp(t)
  const created = await ensureAdmin(app.db, { username: 'root', email: 'root@example.com', password })
  t.equal(created.action, 'created')
  t.equal(created.user.isAdmin, true)

  const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'root', password: 'admin password' } })
  t.equal(login.statusCode, 200, 'the admin can log in')

  await app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { username: 'bob', email: 'bob@example.com', password: 'bob password' } })
  const promoted = await ensureAdmin(app.db, { username: 'BOB', email: undefined, password: () => t.fail('no password asked') as never })
  t.equal(promoted.action, 'promoted')
  t.equal((await findUserByUsername(app.db, 'bob'))?.isAdmin, true)
  t.equal((await ensureAdmin(app.db, { username: 'bob', email: undefined, password })).action, 'unchanged')

  await t.rejects(ensureAdmin(app.db, { username: 'newbie', email: undefined, password }), { code: 'VALIDATION_ERROR', message: /--email/ })
  await t.rejects(ensureAdmin(app.db, { username: 'newbie', email: 'bad', password }), { code: 'VALIDATION_ERROR', message: /email/ })
  await t.rejects(ensureAdmin(app.db, { username: 'newbie', email: 'n@example.com', password: async () => 'short' }), { message: /password/ })
})

t.test('npm run create-admin, as an operator runs it', async (t) => {
  const { env } = await testStorage(t, 'create-admin')

  const created = await runScript('dist/cli/create-admin.js', ['--username', 'admin', '--email', 'admin@example.com'], { ...env, ADMIN_PASSWORD: 'admin password' })
  t.equal(created.code, 0, created.stderr)
  t.match(created.stdout, /^Admin admin \(id \d+\) created\n$/)

  const again = await runScript('dist/cli/create-admin.js', ['--username', 'admin'], env)
  t.match(again.stdout, /unchanged/)

  const noUsername = await runScript('dist/cli/create-admin.js', [], env)
  t.equal(noUsername.code, 1)
  t.match(noUsername.stderr, /^Error: usage: npm run create-admin/)

  const noPassword = await runScript('dist/cli/create-admin.js', ['--username', 'other', '--email', 'o@example.com'], env)
  t.equal(noPassword.code, 1)
  t.match(noPassword.stderr, /^Error: No terminal to type a password on: set ADMIN_PASSWORD\n$/)

  const migrate = await runScript('dist/cli/migrate.js', [], env)
  t.equal(migrate.code, 0)
  t.match(migrate.stdout, /^Migrations applied \((pg|pglite)\)\n$/)

  const badEnv = await runScript('dist/cli/migrate.js', [], { ...env, DATABASE_URL: 'mysql://nope' })
  t.equal(badEnv.code, 1)
  t.match(badEnv.stderr, /^Error: DATABASE_URL is invalid/)
})

t.test('the password can be typed on a terminal, hidden and asked twice', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'create-admin-tty-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  // `script` gives the command a real terminal, the way an operator runs it.
  const command = `${process.execPath} dist/cli/create-admin.js --username typist --email typist@example.com`
  const run = (answers: string[]) =>
    new Promise<string>((resolve) => {
      const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: projectRoot, env: { PATH: process.env.PATH ?? '', DATA_DIR: dataDir } })
      let output = ''
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString()
        const asked = (output.match(/Password/g) ?? []).length
        const answered = answers.length - pending.length
        if (asked > answered && pending.length > 0) child.stdin.write(`${pending.shift()}\r`)
      })
      const pending = [...answers]
      child.on('exit', () => resolve(output))
    })

  const mismatch = await run(['first password', 'other password'])
  t.match(mismatch, /The passwords do not match/)
  const output = await run(['typed password', 'typed password'])
  t.match(output, /Admin typist \(id \d+\) created/)
  t.notMatch(output, /typed password/, 'the password is not echoed')
})
