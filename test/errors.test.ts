import { readFileSync } from 'node:fs'
import { STATUS_CODES } from 'node:http'
import t from 'tap'
import { errorCodes, errorSpec } from '../src/errors/catalogue.js'
import { ErrorResponse } from '../src/errors/schema.js'
import { AppError } from '../src/errors/app-error.js'
import { isDatabaseUnavailable, violatedConstraint } from '../src/db/errors.js'
import { describeError } from '../src/errors/public-error.js'
import { verifyPassword, hashPassword } from '../src/modules/auth/passwords.js'

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code })

t.test('database outages are told apart from bad queries', async (t) => {
  t.ok(isDatabaseUnavailable(withCode('ECONNREFUSED')))
  t.ok(isDatabaseUnavailable(withCode('08006')), 'connection failure class')
  t.ok(isDatabaseUnavailable(withCode('57P01')), 'admin shutdown')
  t.ok(isDatabaseUnavailable(new Error('timeout exceeded when trying to connect')))
  t.ok(isDatabaseUnavailable(new Error('Failed query', { cause: withCode('ECONNRESET') })), 'wrapped by the ORM')
  t.notOk(isDatabaseUnavailable(withCode('42P01')), 'undefined table is a bug, not an outage')
  t.notOk(isDatabaseUnavailable('ECONNREFUSED'))
  t.notOk(isDatabaseUnavailable(new Error('plain')))
})

t.test('unique violations name their constraint', async (t) => {
  const violation = Object.assign(new Error('duplicate'), { code: '23505', constraint: 'users_username_lower_key' })
  t.equal(violatedConstraint(violation), 'users_username_lower_key')
  t.equal(violatedConstraint(new Error('Failed query', { cause: violation })), 'users_username_lower_key')
  t.equal(violatedConstraint(withCode('23503')), undefined)
  t.equal(violatedConstraint(null), undefined)
})

t.test('the public shape of any error', async (t) => {
  t.match(describeError(new AppError('TITLE_TAKEN', 'taken'), 'r1'), { statusCode: 409, code: 'TITLE_TAKEN' })
  t.match(describeError(withCode('ECONNREFUSED'), 'r1'), { statusCode: 503, code: 'DATABASE_UNAVAILABLE', headers: { 'Retry-After': '5' } })
  t.match(describeError(Object.assign(new Error('Method not allowed'), { statusCode: 405, code: 'X' }), 'r1'), { statusCode: 405, code: 'METHOD_NOT_ALLOWED' })
  t.match(describeError(Object.assign(new Error('Teapot'), { statusCode: 418, code: 'X' }), 'r1'), { statusCode: 418, code: 'BAD_REQUEST' })
  t.same(describeError(Object.assign(new Error('at /srv/x.js'), { statusCode: 502 }), 'r2'), {
    statusCode: 500,
    code: 'INTERNAL_ERROR',
    message: 'The server failed to handle this request (request id r2)'
  })
})

t.test('the catalogue is the one list of codes', async (t) => {
  t.same(ErrorResponse.properties.code.enum, errorCodes, 'the error schema enumerates the catalogue')
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  const table = readme.slice(readme.indexOf('- **Errors**'), readme.indexOf('No stack trace'))
  const documented = new Set(table.match(/`[A-Z][A-Z_]+`/g)?.map((code) => code.slice(1, -1)))
  t.same([...documented].sort(), [...errorCodes].sort(), "the README's error table lists every code, and only those")
  for (const code of errorCodes) {
    const { status, message } = errorSpec(code)
    t.ok(STATUS_CODES[status] && status >= 400, `${code} has an HTTP error status`)
    t.match(new AppError(code), { statusCode: status, code, message }, `${code} is thrown with its status and default message`)
  }
})

t.test('password hashes', async (t) => {
  const stored = await hashPassword('pässword 1')
  t.ok(await verifyPassword('pässword 1', stored))
  t.ok(await verifyPassword('pa\u0308ssword 1', stored), 'compared in NFKC form')
  t.notOk(await verifyPassword('password 1', stored))
  t.notOk(await verifyPassword('pässword 1', 'bcrypt$whatever'), 'an unknown scheme never matches')
  t.notOk(await verifyPassword('pässword 1', 'scrypt$15$8$1$c2FsdA=='), 'a truncated hash never matches')
  t.not(await hashPassword('same'), await hashPassword('same'), 'salted')
})
