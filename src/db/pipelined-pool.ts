import pg from 'pg'
import type { PoolFigures } from './client.js'

/** Shared pipelined connections; more than one, so one slow statement cannot hold up every read. */
const LANES = 2
/** A lane whose oldest query has waited this long is stalled: new queries take a pooled connection. */
const STALL_MS = 100

interface Lane {
  client: Promise<pg.Client> | undefined
  /** When each query still waiting on this lane was sent, oldest first (answers come in order). */
  sent: number[]
  corked: boolean
}

/**
 * A `pg.Pool` whose standalone statements (every read, and each write made outside a
 * transaction) travel on a few long-lived connections in pipeline mode: concurrent
 * requests write their queries back to back on one socket instead of each taking a
 * connection and waiting out its round trip. That halves the service's CPU per query
 * and keeps PostgreSQL's backends busy instead of waking one per query.
 *
 * A query goes to an idle lane, else to the lane whose oldest query is youngest, so one
 * slow statement only delays what was already queued behind it; when every lane is
 * stalled, queries fall back to the pool (and its connection timeout sheds load).
 *
 * `connect()` is the plain pool's: drizzle's transactions and the migration lock take a
 * connection of their own from it, so session state (BEGIN, locks) is never shared.
 */
export class PipelinedPool extends pg.Pool {
  readonly #clientConfig: pg.ClientConfig
  readonly #lanes: Lane[] = Array.from({ length: LANES }, () => ({ client: undefined, sent: [], corked: false }))
  #closed = false

  readonly #onQueryError: ((error: unknown) => void) | undefined

  /** `onQueryError` hears of every failed query, on the lanes (a failed connection included) and on pooled connections alike. */
  constructor(config: pg.PoolConfig, onQueryError?: (error: unknown) => void) {
    super(config)
    this.#onQueryError = onQueryError
    // A statement on a shared lane is short: past the pool's query timeout (or 30 s) the
    // connection is presumed lost and replaced.
    this.#clientConfig = { ...config, pipeline: true, keepAlive: true, keepAliveInitialDelayMillis: 10_000, query_timeout: config.query_timeout ?? 30_000 }
    // pg-pool listens for errors only on idle clients: a connection lost while checked out
    // (in a transaction, during COMMIT) would otherwise be an uncaught error that ends the
    // process. The query in flight is rejected anyway; the pool drops the broken client.
    this.on('connect', (client) => {
      client.on('error', () => {})
      this.#report(client)
    })
    // Overloads (callbacks, submittables) nobody here uses make a plain override impossible:
    // the two methods are replaced on the instance.
    Object.assign(this, { query: (query: pg.QueryConfig, values?: unknown[]) => this.#run(query, values), end: () => this.#close() })
  }

  async #run(query: pg.QueryConfig, values?: unknown[]): Promise<pg.QueryResult> {
    if (this.#closed) throw new Error('Cannot use a pool after calling end on the pool')
    const now = performance.now()
    const lane = this.#pick()
    if (now - (lane.sent[0] ?? now) > STALL_MS) return super.query(query, values)
    lane.sent.push(now)
    try {
      const client = await (lane.client ??= this.#open(lane))
      batchWrites(lane, client)
      try {
        return await client.query(query, values)
      } catch (error) {
        // No answer in time: what is queued behind it will not get one either. Closing the
        // socket fails those queries too, and the lane reconnects on its next query.
        if (error instanceof Error && error.message === 'Query read timeout') client.connection.stream.destroy()
        throw error
      }
    } catch (error) {
      // Reported here, not by wrapping the lane's client as pooled ones are: a read that
      // succeeds pays nothing for it.
      this.#onQueryError?.(error)
      throw error
    } finally {
      lane.sent.shift()
    }
  }

  /** What the metrics show: checked-out connections and busy lanes, idle ones, and waiting transactions. */
  figures(): PoolFigures {
    const busyLanes = this.#lanes.filter((lane) => lane.sent.length > 0).length
    return { inUse: this.totalCount - this.idleCount + busyLanes, idle: this.idleCount, waiting: this.waitingCount, max: this.options.max }
  }

  /** Has the client tell `onQueryError` of each query that fails (the caller still gets the rejection). */
  #report(client: pg.Client) {
    const onQueryError = this.#onQueryError
    if (onQueryError === undefined) return
    const query: (...args: unknown[]) => unknown = client.query.bind(client)
    Object.assign(client, {
      query: (...args: unknown[]) => {
        // The pool's own query() (the fallback of stalled lanes) passes a callback; the rest take the promise.
        const callback = args.at(-1)
        if (typeof callback === 'function') {
          args[args.length - 1] = (error: unknown, result: unknown) => {
            if (error) onQueryError(error)
            Reflect.apply(callback, undefined, [error, result])
          }
          return query(...args)
        }
        const result = query(...args)
        if (result instanceof Promise) result.catch(onQueryError)
        return result
      }
    })
  }

  /** An idle lane, else the one whose oldest waiting query was sent last. */
  #pick(): Lane {
    const oldest = (lane: Lane) => lane.sent[0] ?? Infinity
    return this.#lanes.reduce((best, lane) => (oldest(lane) > oldest(best) ? lane : best))
  }

  /** Connects a lane; once its connection fails or ends, the next query opens a new one. */
  #open(lane: Lane): Promise<pg.Client> {
    const client = new pg.Client(this.#clientConfig)
    const opened: Promise<pg.Client> = client.connect().then(
      () => client,
      (error: unknown) => {
        forget()
        throw error
      }
    )
    const forget = () => {
      if (lane.client === opened) lane.client = undefined
    }
    // The queries in flight are rejected by the client itself; the error must not crash us,
    // and a client that failed without closing its socket is closed here.
    client.on('error', () => {
      forget()
      client.end().catch(() => {})
    })
    client.on('end', forget)
    return opened
  }

  async #close(): Promise<void> {
    this.#closed = true
    const lanes = this.#lanes.map(async (lane) => {
      const client = await lane.client?.catch(() => undefined)
      lane.client = undefined
      await client?.end()
    })
    await Promise.all([...lanes, super.end()])
  }
}

/**
 * Holds a lane's writes until the event loop's current turn is over, so the queries of
 * every request handled in that turn leave in one write (and wake PostgreSQL once).
 */
function batchWrites(lane: Lane, client: pg.Client) {
  if (lane.corked) return
  lane.corked = true
  const socket = client.connection.stream
  socket.cork()
  setImmediate(() => {
    lane.corked = false
    socket.uncork()
  })
}
