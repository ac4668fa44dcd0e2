import { createHmac } from 'node:crypto'
import t from 'tap'
import { eq } from 'drizzle-orm'
import { users } from '../../src/db/schema.js'
import { buildTestApp, createTestUser, TEST_SECRET } from '../helpers/app.js'

const register = { username: 'alice', email: 'alice@example.com', password: 'correct horse battery' }

/** Signs an arbitrary JWT, to forge the tokens an attacker would try. */
function forgeToken(header: object, payload: object, secret = TEST_SECRET): string {
  const encode = (part: object) => Buffer.from(JSON.stringify(part)).toString('base64url')
  const body = `${encode(header)}.${encode(payload)}`
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`
}
const now = () => Math.floor(Date.now() / 1000)

t.test('users and tokens', async (t) => {
  const app = await buildTestApp(t, { LOGIN_RATE_LIMIT: '1000' })

  await t.test('register answers 201 with the user and never the password', async (t) => {
    const escalation = await app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { ...register, is_admin: true } })
    t.match(escalation.json(), { statusCode: 400, code: 'UNKNOWN_FIELD', message: 'body/is_admin is not a field of this request' }, 'no one registers as an admin')
    const res = await app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: register })
    t.equal(res.statusCode, 201)
    const body = res.json()
    t.match(body, { id: Number, username: 'alice', email: 'alice@example.com', is_admin: false, created_at: /^\d{4}-\d\d-\d\dT.*Z$/ })
    t.notOk(JSON.stringify(body).includes('password'))
    t.notOk(JSON.stringify(body).includes('scrypt'))
    const [row] = await app.db.select().from(users).where(eq(users.id, body.id))
    t.match(row?.passwordHash, /^scrypt\$15\$8\$1\$/, 'stored as a salted scrypt hash')
  })

  await t.test('usernames are unique ignoring case', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { ...register, username: 'ALICE' } })
    t.equal(res.statusCode, 409)
    t.match(res.json(), { statusCode: 409, code: 'USERNAME_TAKEN', error: 'Conflict' })
  })

  await t.test('two registrations racing for one name: one wins, one gets 409', async (t) => {
    const payload = { ...register, username: 'racer' }
    const answers = await Promise.all([1, 2].map(() => app.inject({ method: 'POST', url: '/api/v1/auth/register', payload })))
    t.same(answers.map((r) => r.statusCode).sort(), [201, 409])
  })

  await t.test('bad input is 400 naming the field and creates nothing', async (t) => {
    const cases: Array<[object, RegExp]> = [
      [{ ...register, username: 'ab' }, /username/],
      [{ ...register, username: 'bad name' }, /username/],
      [{ ...register, username: 'x'.repeat(151) }, /username/],
      [{ ...register, username: 'semi;colon' }, /username/],
      [{ ...register, email: 'not-an-email' }, /email/],
      [{ ...register, password: 'short' }, /password/],
      [{ ...register, password: 'x'.repeat(1025) }, /password/],
      [{ username: 'nopassword', email: 'a@b.co' }, /password/]
    ]
    for (const [payload, field] of cases) {
      const res = await app.inject({ method: 'POST', url: '/api/v1/auth/register', payload })
      t.equal(res.statusCode, 400, JSON.stringify(payload).slice(0, 80))
      t.match(res.json(), { code: 'VALIDATION_ERROR', message: field })
    }
    const count = await app.db.$count(users)
    t.equal(count, 2, 'only alice and racer exist')
  })

  await t.test('usernames are checked as they will be stored (NFKC)', async (t) => {
    const register = (username: string) => app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { username, email: 'n@example.com', password: 'password123' } })
    const expands = await register('\ufdfa'.repeat(10)) // one ligature becomes 18 characters with spaces
    t.equal(expands.statusCode, 400, 'too long or with spaces once normalized: 400, not 500')
    t.equal((await register('ab\ufdfa')).statusCode, 400, 'the expansion contains spaces')
    t.equal((await register('\uff76\uff9e\uff76')).statusCode, 400, 'three half-width characters normalize to two')
    const fullwidth = await register('\uff41\uff42\uff43\uff44')
    t.equal(fullwidth.statusCode, 201)
    t.equal(fullwidth.json().username, 'abcd', 'stored in NFKC form')
  })

  await t.test('unicode letters are allowed in usernames', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { ...register, username: 'Zoë.müller+1@x_y-z' } })
    t.equal(res.statusCode, 201)
  })

  await t.test('login returns a bearer token that works on /me', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'Alice', password: register.password } })
    t.equal(res.statusCode, 200)
    const body = res.json()
    t.match(body, { access_token: String, token_type: 'Bearer', expires_in: 900, refresh_token: String, refresh_expires_in: 30 * 86400 })
    const [header, payload] = body.access_token.split('.').slice(0, 2).map((part: string) => JSON.parse(Buffer.from(part, 'base64url').toString()))
    t.equal(header.alg, 'HS256')
    t.type(payload.sub, 'string')
    t.equal(payload.exp - payload.iat, 900)
    t.match(payload.sid, /^[0-9a-f-]{36}$/, 'the token names its session')
    const me = await app.inject({ url: '/api/v1/auth/me', headers: { authorization: `Bearer ${body.access_token}` } })
    t.equal(me.statusCode, 200)
    t.match(me.json(), { username: 'alice', email: 'alice@example.com', is_admin: false })
  })

  await t.test('login failure says the same for an unknown user and a wrong password', async (t) => {
    const wrong = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'alice', password: 'wrong password' } })
    const unknown = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'nobody', password: 'wrong password' } })
    t.equal(wrong.statusCode, 401)
    t.equal(unknown.statusCode, 401)
    t.same(wrong.json(), unknown.json())
    t.equal(wrong.json().code, 'INVALID_CREDENTIALS')
  })

  await t.test('protected routes answer 401 with WWW-Authenticate for every bad token, and say which kind', async (t) => {
    const user = await createTestUser(app)
    const sub = String(user.id)
    const [, claims] = user.token.split('.')
    const { sid } = JSON.parse(Buffer.from(claims!, 'base64url').toString()) as { sid: string }
    const tokens: Record<string, [string | undefined, string]> = {
      missing: [undefined, 'UNAUTHORIZED'],
      garbage: ['Bearer not.a.token', 'TOKEN_INVALID'],
      'wrong scheme': [`Basic ${Buffer.from('alice:x').toString('base64')}`, 'UNAUTHORIZED'],
      'wrong secret': [`Bearer ${forgeToken({ alg: 'HS256', typ: 'JWT' }, { sub, sid, exp: now() + 60 }, 'another-secret-another-secret-1234')}`, 'TOKEN_INVALID'],
      'expired, with a wrong secret': [`Bearer ${forgeToken({ alg: 'HS256', typ: 'JWT' }, { sub, sid, exp: now() - 10 }, 'another-secret-another-secret-1234')}`, 'TOKEN_INVALID'],
      expired: [`Bearer ${forgeToken({ alg: 'HS256', typ: 'JWT' }, { sub, sid, exp: now() - 10 })}`, 'TOKEN_EXPIRED'],
      'no exp': [`Bearer ${forgeToken({ alg: 'HS256', typ: 'JWT' }, { sub, sid })}`, 'TOKEN_INVALID'],
      'no sub': [`Bearer ${forgeToken({ alg: 'HS256', typ: 'JWT' }, { sid, exp: now() + 60 })}`, 'TOKEN_INVALID'],
      'no session': [`Bearer ${forgeToken({ alg: 'HS256', typ: 'JWT' }, { sub, exp: now() + 60 })}`, 'TOKEN_INVALID'],
      'an unknown session': [`Bearer ${forgeToken({ alg: 'HS256', typ: 'JWT' }, { sub, sid: '00000000-0000-4000-8000-000000000000', exp: now() + 60 })}`, 'SESSION_REVOKED'],
      'a session as an object': [`Bearer ${forgeToken({ alg: 'HS256', typ: 'JWT' }, { sub, sid: { id: sid }, exp: now() + 60 })}`, 'TOKEN_INVALID'],
      'alg none': [`Bearer ${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub, sid, exp: now() + 60 })).toString('base64url')}.`, 'TOKEN_INVALID'],
      'HS512 with the right secret': [`Bearer ${forgeToken({ alg: 'HS512', typ: 'JWT' }, { sub, sid, exp: now() + 60 })}`, 'TOKEN_INVALID'],
      'unknown user': [`Bearer ${forgeToken({ alg: 'HS256', typ: 'JWT' }, { sub: '999999', sid, exp: now() + 60 })}`, 'TOKEN_INVALID'],
      'non-numeric sub': [`Bearer ${forgeToken({ alg: 'HS256', typ: 'JWT' }, { sub: "1' or 1=1", sid, exp: now() + 60 })}`, 'TOKEN_INVALID'],
      'huge sub': [`Bearer ${forgeToken({ alg: 'HS256', typ: 'JWT' }, { sub: '9999999999', sid, exp: now() + 60 })}`, 'TOKEN_INVALID'],
      'sub as an array': [`Bearer ${forgeToken({ alg: 'HS256', typ: 'JWT' }, { sub: [sub], sid, exp: now() + 60 })}`, 'TOKEN_INVALID'],
      'sub as an object': [`Bearer ${forgeToken({ alg: 'HS256', typ: 'JWT' }, { sub: { toString: 1 }, sid, exp: now() + 60 })}`, 'TOKEN_INVALID']
    }
    for (const [name, [authorization, code]] of Object.entries(tokens)) {
      const res = await app.inject({ url: '/api/v1/auth/me', headers: authorization ? { authorization } : {} })
      t.equal(res.statusCode, 401, name)
      t.match(res.headers['www-authenticate'], code === 'UNAUTHORIZED' ? /^Bearer/ : /^Bearer error="invalid_token"$/, name)
      t.match(res.json(), { statusCode: 401, code, error: 'Unauthorized' }, name)
    }
    const good = await app.inject({ url: '/api/v1/auth/me', headers: user.auth })
    t.equal(good.statusCode, 200, 'the same user with a proper token is fine')
  })

  await t.test('a token outlives its user only until the user is deleted', async (t) => {
    const user = await createTestUser(app)
    await app.db.delete(users).where(eq(users.id, user.id))
    const res = await app.inject({ url: '/api/v1/auth/me', headers: user.auth })
    t.equal(res.statusCode, 401)
    t.match(res.json().message, /no existing user/)
  })
})

t.test('closed registration and login rate limits', async (t) => {
  const app = await buildTestApp(t, { ALLOW_REGISTRATION: 'false', LOGIN_RATE_LIMIT: '3', TRUST_PROXY: 'true' })

  await t.test('registration can be closed', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: register })
    t.equal(res.statusCode, 403)
    t.equal(res.json().code, 'FORBIDDEN')
  })

  const login = (username: string, ip: string) =>
    app.inject({ method: 'POST', url: '/api/v1/auth/login', headers: { 'x-forwarded-for': ip }, payload: { username, password: 'wrong password' } })

  await t.test('per client address', async (t) => {
    for (const name of ['a1', 'a2', 'a3']) t.equal((await login(name, '203.0.113.1')).statusCode, 401)
    const limited = await login('a4', '203.0.113.1')
    t.equal(limited.statusCode, 429)
    t.equal(limited.json().code, 'RATE_LIMITED')
    t.ok(Number(limited.headers['retry-after']) > 0)
    t.equal((await login('a5', '203.0.113.2')).statusCode, 401, 'another address is not affected')
  })

  await t.test('per username, whatever the address', async (t) => {
    for (const ip of ['198.51.100.1', '198.51.100.2', '198.51.100.3']) t.equal((await login('Victim', ip)).statusCode, 401)
    const limited = await login('victim', '198.51.100.4')
    t.equal(limited.statusCode, 429, 'the name is limited ignoring case')
  })
})
