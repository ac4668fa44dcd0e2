import t from 'tap'
import { buildApp } from '../../src/app.js'
import { countHit, pruneRateLimits } from '../../src/plugins/rate-limit.js'
import { buildTestApp, buildTestAppWithConfig } from '../helpers/app.js'
import { listenLocally } from '../helpers/http.js'

const json = (body: object, address: string) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
  body: JSON.stringify(body)
})

let registered = 0
const registration = (name: string) => ({ username: name, email: `user${++registered}@example.com`, password: 'long enough password' })

t.test('registration is limited per address, and for all addresses together', async (t) => {
  const app = await buildTestApp(t, { TRUST_PROXY: 'true', REGISTER_RATE_LIMIT: '3', REGISTER_RATE_LIMIT_GLOBAL: '5' })
  const base = await listenLocally(app)
  const register = (name: string, address: string) => fetch(`${base}/api/v1/auth/register`, json(registration(name), address))

  const first = await register('first', '198.51.100.1')
  t.equal(first.status, 201)
  t.equal(first.headers.get('ratelimit-limit'), '3', 'answers say the limit')
  t.equal(first.headers.get('ratelimit-remaining'), '2', 'and what is left of it')
  t.ok(Number(first.headers.get('ratelimit-reset')) > 3500, 'and when it resets (an hour)')
  t.equal((await register('second', '198.51.100.1')).status, 201)
  t.equal((await register('third', '198.51.100.1')).status, 201)
  const fourth = await register('fourth', '198.51.100.1')
  t.equal(fourth.status, 429, 'the fourth registration from one address is refused')
  t.match(await fourth.json(), { code: 'RATE_LIMITED' })
  t.ok(Number(fourth.headers.get('retry-after')) > 0)

  t.equal((await register('fifth', '198.51.100.2')).status, 201, 'another address may register')
  t.equal((await register('sixth', '198.51.100.3')).status, 201)
  const botnet = await register('seventh', '198.51.100.4')
  t.equal(botnet.status, 429, 'past the overall limit, a fresh address is refused too')
  t.match(await botnet.json(), { code: 'RATE_LIMITED', message: /registrations on this server/ })
  t.equal(botnet.headers.get('ratelimit-limit'), '5')
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200)
})

t.test('the per-account login limit holds for every spelling the database resolves to the account', async (t) => {
  const app = await buildTestApp(t, { TRUST_PROXY: 'true', LOGIN_RATE_LIMIT: '3' })
  const base = await listenLocally(app)
  const login = (username: string, password: string, address: string) => fetch(`${base}/api/v1/auth/login`, json({ username, password }, address))
  t.equal((await fetch(`${base}/api/v1/auth/register`, json(registration('İlker'), '203.0.113.1'))).status, 201)
  const ok = await login('ilker', 'long enough password', '203.0.113.2')
  t.equal(ok.status, 200, '"ilker" is the same account as "İlker" for the database')
  t.equal(ok.headers.get('ratelimit-limit'), '3')

  // JavaScript lower-cases "İ" to "i̇" (two code points); the database to "i". The limit follows the account.
  for (const [i, spelling] of ['İlker', 'İLKER'].entries()) {
    t.equal((await login(spelling, 'a wrong guess', `203.0.113.${10 + i}`)).status, 401)
  }
  const blocked = await login('ILKER', 'long enough password', '203.0.113.20')
  t.equal(blocked.status, 429, 'the fourth attempt on the account is refused, even with the right password')
  t.match(await blocked.json(), { code: 'RATE_LIMITED', message: /this account/ })
  t.ok(Number(blocked.headers.get('retry-after')) > 0)
  t.equal(blocked.headers.get('ratelimit-remaining'), '0')

  // A name no one has is limited as the database spells it, too.
  for (const spelling of ['NOBODY', 'nobody', 'Nobody']) t.equal((await login(spelling, 'guess', '203.0.113.30')).status, 401)
  t.equal((await login('noBODY', 'guess', '203.0.113.31')).status, 429)
})

t.test('two instances on one database share every limit: N instances give the limits of one', async (t) => {
  const env = { TRUST_PROXY: 'true', LOGIN_RATE_LIMIT: '4', REGISTER_RATE_LIMIT: '2' }
  const { app: first, config } = await buildTestAppWithConfig(t, env)
  // On PostgreSQL the second instance has connections of its own; embedded PGlite allows
  // one opener per folder, so there the second app shares the first one's database.
  const second = await buildApp(config, process.env.TEST_DATABASE_URL ? {} : { database: first.database })
  t.teardown(() => second.close())
  const bases = [await listenLocally(first), await listenLocally(second)]

  const answers = []
  for (let attempt = 0; attempt < 6; attempt++) {
    const response = await fetch(`${bases[attempt % 2]}/api/v1/auth/login`, json({ username: `someone${attempt}`, password: 'guess' }, '192.0.2.50'))
    answers.push([response.status, response.headers.get('ratelimit-remaining')])
  }
  t.same(answers, [[401, '3'], [401, '2'], [401, '1'], [401, '0'], [429, '0'], [429, '0']], 'alternating instances, one address gets the limit of one instance')

  const statuses = []
  for (const [i, base] of [...bases, ...bases].entries()) statuses.push((await fetch(`${base}/api/v1/auth/register`, json(registration(`shared${i}`), '192.0.2.60'))).status)
  t.same(statuses, [201, 201, 429, 429], 'registrations too')
})

t.test('a window starts with its first hit, ends on the database clock, and ended windows are pruned', async (t) => {
  const app = await buildTestApp(t)
  t.match(await countHit(app.db, 'probe', 200), { current: 1 })
  const second = await countHit(app.db, 'probe', 200)
  t.equal(second.current, 2)
  t.ok(second.ttl > 0 && second.ttl <= 200, `the window ends within 200 ms (${second.ttl} ms left)`)
  await new Promise((resolve) => setTimeout(resolve, 250))
  t.match(await countHit(app.db, 'probe', 200), { current: 1 }, 'a hit after the window starts a new one')
  await countHit(app.db, 'other', 1)
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(await pruneRateLimits(app.db), 1, 'only the ended window is pruned')
  t.match(await countHit(app.db, 'probe', 200), { current: 2 }, 'the running window is kept')
})

t.test('concurrent hits are each counted once: exactly the limit passes', async (t) => {
  const app = await buildTestApp(t, { LOGIN_RATE_LIMIT: '5' })
  const base = await listenLocally(app)
  const statuses = await Promise.all(Array.from({ length: 20 }, (_, i) => fetch(`${base}/api/v1/auth/login`, json({ username: `racer${i}`, password: 'guess' }, '192.0.2.70')).then((r) => r.status)))
  t.equal(statuses.filter((status) => status === 401).length, 5, 'five attempts reach the password check')
  t.equal(statuses.filter((status) => status === 429).length, 15, 'the rest are refused')
})

t.test('with the database down, limited routes answer 503 instead of running unlimited', async (t) => {
  const app = await buildTestApp(t)
  await app.database.close()
  for (const [path, body] of [['/login', { username: 'someone', password: 'guess' }], ['/register', registration('late')]] as const) {
    const response = await app.inject({ method: 'POST', url: `/api/v1/auth${path}`, payload: body })
    t.equal(response.statusCode, 503, `${path}: 503`)
    t.equal(response.json().code, 'DATABASE_UNAVAILABLE')
  }
})
