import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import fastifyRateLimit, { type FastifyRateLimitStore } from '@fastify/rate-limit'
import { sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { rateLimits } from '../db/schema.js'
import { AppError } from '../errors/app-error.js'
import { runPeriodically } from './periodic.js'

const PRUNE_INTERVAL_MS = 60_000
const PRUNE_BATCH = 1000

/**
 * Counts one request against `key` in the database, so every instance sees the same count:
 * the window starts with the first hit and a hit after it ends starts a new one. One
 * statement, atomic under concurrency, timed by the database's clock.
 */
export async function countHit(db: Db, key: string, windowMs: number): Promise<{ current: number; ttl: number }> {
  const ended = sql`${rateLimits.resetAt} <= now()`
  const [row] = await db
    .insert(rateLimits)
    .values({ key, hits: 1, resetAt: sql`now() + ${windowMs} * interval '1 millisecond'` })
    .onConflictDoUpdate({
      target: rateLimits.key,
      set: {
        hits: sql`case when ${ended} then 1 else ${rateLimits.hits} + 1 end`,
        resetAt: sql`case when ${ended} then excluded.reset_at else ${rateLimits.resetAt} end`
      }
    })
    .returning({ current: rateLimits.hits, ttl: sql<number>`greatest(0, ceil(extract(epoch from ${rateLimits.resetAt} - now()) * 1000))::int` })
  return row!
}

/** The method and path of the route a child store serves (the plugin passes `routeInfo`, not what its types say). */
function routeKey(route: object): string {
  const info: unknown = Reflect.get(route, 'routeInfo')
  if (typeof info !== 'object' || info === null || !('url' in info) || typeof info.url !== 'string') return ''
  return `${'method' in info ? String(info.method) : ''} ${info.url}:`
}

/** @fastify/rate-limit's store interface over `countHit`; a route's limits get their own keys. */
function sharedStore(db: Db) {
  return class SharedStore implements FastifyRateLimitStore {
    constructor(
      _options?: unknown,
      private readonly prefix = ''
    ) {}

    incr(key: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void, timeWindow?: number) {
      countHit(db, this.prefix + key, timeWindow ?? 60_000).then(
        (result) => callback(null, result),
        (error: unknown) => callback(error instanceof Error ? error : new Error(String(error)))
      )
    }

    child(route: object) {
      return new SharedStore(undefined, routeKey(route))
    }
  }
}

/** Deletes the rows of ended windows, a bounded batch per statement. */
export async function pruneRateLimits(db: Db): Promise<number> {
  let pruned = 0
  for (;;) {
    const batch = await db
      .delete(rateLimits)
      .where(sql`${rateLimits.key} = any(array(select ${rateLimits.key} from ${rateLimits} where ${rateLimits.resetAt} < now() limit ${PRUNE_BATCH}))`)
      .returning({ key: rateLimits.key })
    pruned += batch.length
    if (batch.length < PRUNE_BATCH) return pruned
  }
}

export interface RateLimitPluginOptions {
  /** Hears of each request refused, by its route template. */
  onRefused?: (route: string) => void
}

/**
 * Rate limits counted in the database that all instances share, so N instances give the
 * limits of one. Only routes that declare a limit are counted; answers carry the
 * `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` headers.
 */
async function rateLimitPlugin(app: FastifyInstance, { onRefused }: RateLimitPluginOptions) {
  const db = app.db
  await app.register(fastifyRateLimit, {
    global: false,
    onExceeded: (request) => onRefused?.(request.routeOptions.url ?? 'unmatched'),
    enableDraftSpec: true,
    store: sharedStore(db),
    errorResponseBuilder: (_request, context) =>
      new AppError('RATE_LIMITED', `Too many requests, retry in ${context.after}`, { 'Retry-After': String(Math.ceil(context.ttl / 1000)) })
  })
  runPeriodically(app, PRUNE_INTERVAL_MS, 'pruning ended rate-limit windows failed', () => pruneRateLimits(db))
}

export default fp(rateLimitPlugin, { name: 'rate-limit', fastify: '5.x', dependencies: ['db'] })
