import { createHash, randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { Type } from '@sinclair/typebox'
import { and, eq, isNull, sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { idempotencyKeys } from '../db/schema.js'
import { AppError } from '../errors/app-error.js'
import { errorResponses } from '../errors/schema.js'
import type { WriteRequest } from '../media/lifecycle.js'
import { runPeriodically } from './periodic.js'

/** What a write answers: recorded in the write's own transaction when it carries an `Idempotency-Key`. */
export interface Answer {
  statusCode: number
  headers?: Record<string, string>
  body?: unknown
}

interface Claim {
  caller: string
  key: string
  token: string
  /** Set once the answer was stored by the transaction that made the change. */
  recorded: boolean
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The `Idempotency-Key` row this request holds, when it was sent with one. */
    idempotency: Claim | null
  }
  interface FastifyContextConfig {
    /** `false` for writes that change nothing worth replaying (login: it only checks a password). */
    idempotency?: boolean
  }
}

export const IDEMPOTENCY_HEADER = 'idempotency-key'
/** How long an answer is kept for replays. */
const RETENTION = sql`interval '24 hours'`
/**
 * How long a request holds its key before a repeat may take it over (its process died).
 * A write commits only while it still holds the key, so a late first try never commits twice.
 */
const LEASE_MS = 60_000
const PRUNE_INTERVAL_MS = 10 * 60_000
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
// Only these headers are part of a stored answer; the rest are made afresh on each reply.
const KEPT_HEADERS = ['location']

const IdempotencyHeaders = Type.Object({
  [IDEMPOTENCY_HEADER]: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      pattern: '^[\\x21-\\x7e]+$',
      description: '1-255 printable ASCII characters without spaces, one value per intended change (a UUID, say); see Safe retries in the API description'
    })
  )
})

const reused = () => new AppError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was already used for a different request; use a new key for a new request')
const inUse = () => new AppError('IDEMPOTENCY_KEY_IN_USE', 'A request with this Idempotency-Key is still being processed; retry shortly', { 'Retry-After': '1' })

/**
 * The method, the path with its query, and the body: what makes two requests "the same".
 * An uploaded file is represented in the body by the digest of its bytes (`Upload.toJSON`).
 */
function fingerprint(request: FastifyRequest): string {
  return createHash('sha256').update(`${request.method} ${request.url}\n`).update(JSON.stringify(request.body ?? null)).digest('hex')
}

const rowOf = (claim: Pick<Claim, 'caller' | 'key' | 'token'>) =>
  and(eq(idempotencyKeys.caller, claim.caller), eq(idempotencyKeys.key, claim.key), eq(idempotencyKeys.token, claim.token))

/**
 * Stores a write's answer in the write's own transaction, so a committed change always
 * has its answer, even when the connection is lost right after COMMIT. A request that
 * no longer holds its key (a repeat took it over) must not commit: it throws instead.
 */
export async function recordAnswer(tx: Db, request: FastifyRequest, reply: FastifyReply, answer: Answer): Promise<Answer> {
  const claim = request.idempotency
  if (!claim) return answer
  reply.code(answer.statusCode)
  const body = answer.body === undefined || answer.body === null ? '' : asText(reply.serialize(answer.body))
  const stored = await tx
    .update(idempotencyKeys)
    .set({ statusCode: answer.statusCode, headers: answer.headers ?? {}, body })
    .where(rowOf(claim))
    .returning({ key: idempotencyKeys.key })
  if (stored.length === 0) throw inUse()
  claim.recorded = true
  return answer
}

/**
 * How a write made for this request answers: `shape` makes the answer from the write's
 * result inside its transaction, where it is recorded for replays.
 */
export function answering<T>(request: FastifyRequest, reply: FastifyReply, shape: (tx: Db, result: T) => Answer | Promise<Answer>): WriteRequest<T, Answer> {
  return { log: request.log, answer: async (tx, result) => recordAnswer(tx, request, reply, await shape(tx, result)) }
}

/** Sends an answer exactly the way it was recorded. */
export function sendAnswer(reply: FastifyReply, answer: Answer) {
  return reply.code(answer.statusCode).headers(answer.headers ?? {}).send(answer.body ?? null)
}

async function idempotencyPlugin(app: FastifyInstance) {
  app.decorateRequest('idempotency', null)

  const claimKey = async (request: FastifyRequest, reply: FastifyReply) => {
    const key = request.headers[IDEMPOTENCY_HEADER]
    if (typeof key !== 'string') return
    const caller = request.caller ? `user:${request.caller.id}` : 'anonymous'
    const print = fingerprint(request)
    const token = randomUUID()
    const lockedUntil = new Date(Date.now() + LEASE_MS)
    const [taken] = await app.db
      .insert(idempotencyKeys)
      .values({ caller, key, fingerprint: print, token, lockedUntil })
      .onConflictDoUpdate({
        target: [idempotencyKeys.caller, idempotencyKeys.key],
        set: { fingerprint: print, token, lockedUntil, statusCode: null, headers: null, body: null, createdAt: sql`now()` },
        // An expired answer is forgotten; a first try that died is taken over by its repeat.
        setWhere: sql`${idempotencyKeys.createdAt} < now() - ${RETENTION} or (${idempotencyKeys.statusCode} is null and ${idempotencyKeys.lockedUntil} < now() and ${idempotencyKeys.fingerprint} = ${print})`
      })
      .returning({ token: idempotencyKeys.token })
    if (taken) {
      request.idempotency = { caller, key, token, recorded: false }
      return
    }
    const [row] = await app.db.select().from(idempotencyKeys).where(and(eq(idempotencyKeys.caller, caller), eq(idempotencyKeys.key, key)))
    if (!row || row.statusCode === null) throw row && row.fingerprint !== print ? reused() : inUse()
    if (row.fingerprint !== print) throw reused()
    reply.code(row.statusCode).headers({ ...(row.headers ?? {}), 'idempotent-replayed': 'true' })
    if (row.body) reply.type('application/json; charset=utf-8')
    return reply.send(row.body || null)
  }

  // Answers the write did not store in its transaction: a client error is kept like a
  // success, a server error gives the key back (unless the change committed after all:
  // its answer is stored then, and only rows without one are deleted). An answer recorded
  // inside a transaction counts only for a success: a 5xx may mean that it rolled back.
  const settleKey = async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const claim = request.idempotency
    if (!claim || (claim.recorded && reply.statusCode < 500)) return payload
    const unanswered = and(rowOf(claim), isNull(idempotencyKeys.statusCode))
    const store =
      reply.statusCode >= 500
        ? app.db.delete(idempotencyKeys).where(unanswered)
        : app.db
            .update(idempotencyKeys)
            .set({ statusCode: reply.statusCode, headers: keptHeaders(reply), body: typeof payload === 'string' ? payload : String(payload ?? '') })
            .where(unanswered)
    await store.catch((error: unknown) => request.log.warn({ err: error }, 'could not settle the Idempotency-Key; a repeat waits for its lease to end'))
    return payload
  }

  // Only writes get the header in their schema (validated and documented) and the two
  // hooks: reads, the hot path, pay nothing for it.
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    if (!methods.some((method) => WRITE_METHODS.has(method)) || route.config?.idempotency === false) return
    if (route.schema) {
      route.schema.headers = IdempotencyHeaders
      const declared: unknown = route.schema.response
      route.schema.response = { ...errorResponses(409, 422), ...(typeof declared === 'object' ? declared : {}) }
    }
    route.preHandler = [...toArray(route.preHandler), claimKey]
    route.onSend = [...toArray(route.onSend), settleKey]
  })

  runPeriodically(app, PRUNE_INTERVAL_MS, 'pruning old Idempotency-Key answers failed', () => pruneIdempotencyKeys(app.db))
}

function asText(serialized: string | ArrayBuffer | Buffer): string {
  return typeof serialized === 'string' ? serialized : new TextDecoder().decode(serialized)
}

function keptHeaders(reply: FastifyReply): Record<string, string> {
  return Object.fromEntries(KEPT_HEADERS.flatMap((name) => (typeof reply.getHeader(name) === 'string' ? [[name, String(reply.getHeader(name))]] : [])))
}

function toArray<T>(value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value]
}

const PRUNE_BATCH = 1000

/**
 * Forgets answers older than the retention period, a bounded batch per statement (each
 * stays far below the statement deadline), until none is left. Every instance may run it.
 */
export async function pruneIdempotencyKeys(db: Db): Promise<number> {
  let pruned = 0
  for (;;) {
    const batch = await db
      .delete(idempotencyKeys)
      .where(sql`ctid = any(array(select ctid from ${idempotencyKeys} where ${idempotencyKeys.createdAt} < now() - ${RETENTION} limit ${PRUNE_BATCH}))`)
      .returning({ key: idempotencyKeys.key })
    pruned += batch.length
    if (batch.length < PRUNE_BATCH) return pruned
  }
}

export default fp(idempotencyPlugin, { name: 'idempotency', fastify: '5.x', dependencies: ['db', 'auth'] })
