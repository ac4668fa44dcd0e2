import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { runScript, startServer } from './helpers/process.js'

const json = (body: object) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

t.test('a bad environment value stops the process with one clear line', async (t) => {
  const result = await runScript('dist/server.js', [], { PORT: 'eighty' })
  t.equal(result.code, 1)
  t.equal(result.stderr, 'Configuration error: PORT is invalid: expected TCP port, 0-65535; got "eighty"\n')
  const production = await runScript('dist/server.js', [], { NODE_ENV: 'production' })
  t.equal(production.code, 1)
  t.match(production.stderr, /^Configuration error: JWT_SECRET is required when NODE_ENV=production/)
})

t.test('an unreachable database stops the start with one clear line', async (t) => {
  const result = await runScript('dist/server.js', [], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none', LOG_LEVEL: 'silent' })
  t.equal(result.code, 1)
  t.match(result.stderr, /^Cannot reach the database: .*ECONNREFUSED.*\n$/)
})

t.test('the embedded default end to end: fresh folder, restart, data and tokens survive', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'embedded-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  // No DATABASE_URL and no JWT_SECRET: exactly what `npm start` on a fresh clone sees.
  const env = { DATA_DIR: dataDir }

  const first = await startServer(env)
  const registered = await fetch(`${first.url}/api/v1/auth/register`, json({ username: 'carol', email: 'carol@example.com', password: 'carol password' }))
  t.equal(registered.status, 201)
  const login = await fetch(`${first.url}/api/v1/auth/login`, json({ username: 'carol', password: 'carol password' }))
  const { access_token: token } = (await login.json()) as { access_token: string }
  t.equal(await first.stop('SIGTERM'), 0, 'SIGTERM shuts down cleanly')
  t.match(first.output.stdout, /shutting down/)

  const second = await startServer(env)
  t.teardown(() => second.stop())
  const me = await fetch(`${second.url}/api/v1/auth/me`, { headers: { authorization: `Bearer ${token}` } })
  t.equal(me.status, 200, 'the token from before the restart still works')
  t.match(await me.json(), { username: 'carol' })
  const again = await fetch(`${second.url}/api/v1/auth/login`, json({ username: 'carol', password: 'carol password' }))
  t.equal(again.status, 200, 'the user is still there')
  t.notMatch(second.output.stdout, /carol password/, 'passwords never reach the log')
})
