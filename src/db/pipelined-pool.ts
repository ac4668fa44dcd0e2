import pg from 'pg'

/** Shared pipelined connections; more than one, so one slow statement cannot hold up every read. */
const LANES = 2

interface Lane {
  client: Promise<pg.Client> | undefined
  pending: number
  corked: boolean
}

/**
 * A `pg.Pool` whose standalone statements (every read, and each write made outside a
 * transaction) travel on a few long-lived connections in pipeline mode: concurrent
 * requests write their queries back to back on one socket instead of each taking a
 * connection and waiting out its round trip. That halves the service's CPU per query
 * and keeps PostgreSQL's backends busy instead of waking one per query.
 *
 * `connect()` is the plain pool's: drizzle's transactions and the migration lock take a
 * connection of their own from it, so session state (BEGIN, locks) is never shared.
 */
export class PipelinedPool extends pg.Pool {
  readonly #clientConfig: pg.ClientConfig
  readonly #lanes: Lane[] = Array.from({ length: LANES }, () => ({ client: undefined, pending: 0, corked: false }))
  #closed = false

  constructor(config: pg.PoolConfig) {
    super(config)
    this.#clientConfig = { ...config, pipeline: true }
    // Overloads (callbacks, submittables) nobody here uses make a plain override impossible.
    this.query = ((query: pg.QueryConfig, values?: unknown[]) => this.#run(query, values)) as pg.Pool['query']
    this.end = (() => this.#close()) as pg.Pool['end']
  }

  async #run(query: pg.QueryConfig, values?: unknown[]): Promise<pg.QueryResult> {
    if (this.#closed) throw new Error('Cannot use a pool after calling end on the pool')
    const lane = this.#lanes.reduce((least, candidate) => (candidate.pending < least.pending ? candidate : least))
    lane.pending += 1
    try {
      const client = await (lane.client ??= this.#open(lane))
      batchWrites(lane, client)
      return await client.query(query, values)
    } finally {
      lane.pending -= 1
    }
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
    // The queries in flight are rejected by the client itself; the error must not crash us.
    client.on('error', forget)
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
