import { createHmac } from 'node:crypto'
import { eq, sql } from 'drizzle-orm'
import t from 'tap'
import { refreshTokens, sessions } from '../../src/db/schema.js'
import { pruneSessions, REUSE_GRACE_SECONDS } from '../../src/modules/auth/sessions.js'
import { createUser } from '../../src/modules/auth/users.js'
import { buildTestApp, TEST_SECRET } from '../helpers/app.js'
import { listenLocally } from '../helpers/http.js'

interface Tokens {
  access_token: string
  refresh_token: string
  expires_in: number
  refresh_expires_in: number
}

const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sub: string; sid: string; exp: number }

// On CI the suite's database is PostgreSQL; the embedded default must behave the same.
for (const driver of ['the configured database', 'embedded PGlite']) {
  t.test(`sessions on ${driver}, over real HTTP`, async (t) => {
    const logs: string[] = []
    const app = await buildTestApp(t, { LOG_LEVEL: 'warn', LOGIN_RATE_LIMIT: '1000', ...(driver === 'embedded PGlite' ? { DATABASE_URL: '' } : {}) }, { logStream: { write: (line) => void logs.push(line) } })
    const base = await listenLocally(app)
    let users = 0
    const call = async (path: string, body?: object, token?: string) => {
      const res = await fetch(`${base}/api/v1/auth${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body)
      })
      const text = await res.text()
      return { status: res.status, body: text ? (JSON.parse(text) as Tokens & { code?: string }) : undefined, authenticate: res.headers.get('www-authenticate') }
    }
    const newUser = async (password = 'first password') => {
      const username = `session_user${(users += 1)}`
      await createUser(app.db, { username, email: `${username}@example.com`, password })
      return username
    }
    const login = async (username: string, password = 'first password') => {
      const res = await call('/login', { username, password })
      t.equal(res.status, 200, `${username} logs in`)
      return res.body!
    }
    const me = (token: string) => call('/me', undefined, token)
    const refresh = (token: string) => call('/refresh', { refresh_token: token })
    const codeOf = async (answer: Promise<{ status: number; body?: { code?: string } }>) => {
      const { status, body } = await answer
      return `${status} ${body?.code ?? ''}`.trim()
    }

    await t.test('login answers both tokens; a refresh rotates them', async (t) => {
      const first = await login(await newUser())
      t.match(first, { token_type: 'Bearer', expires_in: 900, refresh_expires_in: 30 * 86400 })
      t.ok(Buffer.from(first.refresh_token, 'base64url').length >= 32, 'at least 256 bits')
      const stored = await app.db.select().from(refreshTokens)
      t.notOk(stored.some((row) => row.hash === first.refresh_token), 'stored only as a hash')
      const second = (await refresh(first.refresh_token)).body!
      t.not(second.refresh_token, first.refresh_token)
      t.equal(claimsOf(second.access_token).sid, claimsOf(first.access_token).sid, 'the same session')
      t.equal((await me(second.access_token)).status, 200)
      t.equal((await me(first.access_token)).status, 200, 'an earlier access token lives until it expires')
    })

    await t.test('reusing a rotated token revokes its whole session, with a warning', async (t) => {
      const first = await login(await newUser())
      const second = (await refresh(first.refresh_token)).body!
      const third = (await refresh(second.refresh_token)).body!
      // As if the replacement happened before the grace: set its time back.
      await app.db.update(refreshTokens).set({ replacedAt: sql`now() - make_interval(secs => ${REUSE_GRACE_SECONDS + 1})` }).where(sql`${refreshTokens.replacedAt} is not null`)
      const reuse = await refresh(first.refresh_token)
      t.equal(`${reuse.status} ${reuse.body?.code}`, '401 REFRESH_TOKEN_REUSED')
      t.equal(reuse.authenticate, 'Bearer error="invalid_token"')
      t.equal(await codeOf(me(third.access_token)), '401 SESSION_REVOKED', "the family's newest access token stops at once")
      t.equal(await codeOf(refresh(third.refresh_token)), '401 SESSION_REVOKED', 'and its newest refresh token')
      t.match(logs.join(''), /"level":40.*a replaced refresh token was used again/, 'logged at warn level')
    })

    await t.test('two tabs refreshing with one token at once both go on', async (t) => {
      const first = await login(await newUser())
      const [a, b] = await Promise.all([refresh(first.refresh_token), refresh(first.refresh_token)])
      t.same([a.status, b.status], [200, 200], 'both refreshes succeed')
      for (const tab of [a.body!, b.body!]) {
        t.equal((await me(tab.access_token)).status, 200, "each tab's access token works")
        t.equal((await refresh(tab.refresh_token)).status, 200, "and each tab's refresh token")
      }
    })

    await t.test('logout ends this session at once; logout-all ends every one', async (t) => {
      const username = await newUser()
      const [phone, laptop, tablet] = [await login(username), await login(username), await login(username)]
      t.equal((await call('/logout', {}, phone.access_token)).status, 204)
      t.equal(await codeOf(me(phone.access_token)), '401 SESSION_REVOKED')
      t.equal(await codeOf(refresh(phone.refresh_token)), '401 SESSION_REVOKED')
      t.equal((await me(laptop.access_token)).status, 200, 'other sessions go on')
      t.equal((await call('/logout-all', {}, laptop.access_token)).status, 204)
      for (const session of [laptop, tablet]) {
        t.equal(await codeOf(me(session.access_token)), '401 SESSION_REVOKED')
        t.equal(await codeOf(refresh(session.refresh_token)), '401 SESSION_REVOKED')
      }
      t.equal(await codeOf(call('/logout', {})), '401 UNAUTHORIZED', 'logging out needs a token')
    })

    await t.test('a password change ends the other sessions and the old password', async (t) => {
      const username = await newUser()
      const [here, elsewhere] = [await login(username), await login(username)]
      t.equal(await codeOf(call('/password', { current_password: 'wrong password', new_password: 'second password' }, here.access_token)), '401 INVALID_CREDENTIALS')
      t.equal(await codeOf(call('/password', { current_password: 'first password', new_password: 'short' }, here.access_token)), '400 VALIDATION_ERROR')
      const changed = await call('/password', { current_password: 'first password', new_password: 'second password' }, here.access_token)
      t.equal(changed.status, 200)
      t.equal(claimsOf(changed.body!.access_token).sid, claimsOf(here.access_token).sid, 'fresh tokens for this session')
      t.equal((await me(changed.body!.access_token)).status, 200)
      t.equal((await refresh(changed.body!.refresh_token)).status, 200)
      t.equal(await codeOf(refresh(here.refresh_token)), '401 TOKEN_INVALID', "this session's earlier refresh token stops")
      t.equal(await codeOf(me(elsewhere.access_token)), '401 SESSION_REVOKED', 'other sessions end at once')
      t.equal(await codeOf(call('/login', { username, password: 'first password' })), '401 INVALID_CREDENTIALS', 'the old password no longer logs in')
      await login(username, 'second password')
    })

    await t.test('a wrong current password is rate-limited like a login', async (t) => {
      const limited = await buildTestApp(t, { LOGIN_RATE_LIMIT: '2', ...(driver === 'embedded PGlite' ? { DATABASE_URL: '' } : {}) })
      await createUser(limited.db, { username: 'limited', email: 'limited@example.com', password: 'first password' })
      const token = (await limited.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'limited', password: 'first password' } })).json<Tokens>().access_token
      const attempt = () => limited.inject({ method: 'POST', url: '/api/v1/auth/password', headers: { authorization: `Bearer ${token}` }, payload: { current_password: 'guess', new_password: 'second password' } })
      t.equal((await attempt()).statusCode, 401)
      t.equal((await attempt()).statusCode, 429, 'the account has used its login attempts')
    })

    await t.test('an expired access token says "refresh", a forged one "log in again"', async (t) => {
      const first = await login(await newUser())
      const claims = claimsOf(first.access_token)
      const sign = (payload: object, secret = TEST_SECRET) => {
        const body = `${Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`
        return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`
      }
      const expired = await me(sign({ sub: claims.sub, sid: claims.sid, exp: Math.floor(Date.now() / 1000) - 5 }))
      t.equal(`${expired.status} ${expired.body?.code}`, '401 TOKEN_EXPIRED')
      t.equal(expired.authenticate, 'Bearer error="invalid_token"')
      t.equal(await codeOf(me(sign({ ...claims }, 'a-secret-that-is-not-the-servers-secret'))), '401 TOKEN_INVALID')
      t.equal(await codeOf(refresh('no-such-refresh-token')), '401 TOKEN_INVALID')
      t.equal((await refresh(first.refresh_token)).status, 200, 'the refresh token still works')
    })

    await t.test('ended sessions are pruned a day later, by every instance at once', async (t) => {
      const username = await newUser()
      const ended = [await login(username), await login(username)].map((tokens) => claimsOf(tokens.access_token).sid)
      const live = claimsOf((await login(username)).access_token).sid
      await app.db.update(sessions).set({ revokedAt: sql`now() - interval '2 days'` }).where(eq(sessions.id, ended[0]!))
      await app.db.update(sessions).set({ expiresAt: sql`now() - interval '2 days'` }).where(eq(sessions.id, ended[1]!))
      const [a, b] = await Promise.all([pruneSessions(app.db), pruneSessions(app.db)])
      t.ok(a + b >= 2, 'both ended sessions are gone')
      const left = await app.db.select({ id: sessions.id }).from(sessions).where(sql`${sessions.id} in (${sql.join([...ended, live].map((id) => sql`${id}::uuid`), sql`, `)})`)
      t.same(left.map((row) => row.id), [live], 'the live one stays')
      t.equal((await app.db.select().from(refreshTokens).where(eq(refreshTokens.sessionId, ended[0]!))).length, 0, 'their refresh tokens with them')
    })
  })
}

