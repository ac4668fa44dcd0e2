import { sql } from 'drizzle-orm'
import { drizzle } from 'drizzle-orm/node-postgres'
import pg from 'pg'
import { isDatabaseUnavailable } from './errors.js'
import type { Db } from './client.js'

/** Runs `work` in a transaction and returns what it returned once the commit is known to have happened. */
export type Transact = <T>(work: (tx: Db) => Promise<T>) => Promise<T>

/** How often a commit of unknown outcome is looked up while its transaction is still in progress. */
const OUTCOME_POLL_MS = 50

/** A commit was sent but its answer never came, and the database could not say what became of it. */
export class CommitOutcomeUnknown extends Error {
  override name = 'CommitOutcomeUnknown'
  constructor(cause: unknown) {
    super('Connection lost during COMMIT; the outcome could not be determined', { cause })
  }
}

/**
 * Transactions on PostgreSQL through `pg`, bounded and never guessed at:
 * - the whole transaction has `timeoutMs`; past it the connection is cut, so a database
 *   that stops answering fails the transaction instead of holding the request forever;
 * - a connection that fails while COMMIT is under way (the commit may have happened,
 *   its answer lost) is not taken for a rollback: the transaction's id is looked up on
 *   another connection (`pg_xact_status`), and a committed transaction returns its result
 *   like any other. If the database cannot tell within `timeoutMs`,
 *   `CommitOutcomeUnknown` is thrown: the caller must then leave alone anything the
 *   transaction may have made reachable.
 */
export function pgTransactions(pool: pg.Pool, timeoutMs: number): Transact {
  return async <T>(work: (tx: Db) => Promise<T>) => {
    const client = await pool.connect()
    let failure: Error | undefined
    const deadline = setTimeout(() => cut(client, timeoutMs), timeoutMs)
    let xid: string | undefined
    // Set once the work is done and COMMIT is about to be sent.
    let done: { result: T } | undefined
    try {
      await drizzle(client).transaction(async (tx) => {
        xid = (await tx.execute<{ xid: string }>(sql`select pg_current_xact_id()::text xid`)).rows[0]?.xid
        done = { result: await work(tx) }
      })
      return done!.result
    } catch (error) {
      if (!isDatabaseUnavailable(error)) throw error
      failure = error instanceof Error ? error : new Error(String(error))
      if (done === undefined || xid === undefined) throw error
      const outcome = await commitOutcome(pool, xid, timeoutMs)
      if (outcome === 'committed') return done.result
      throw outcome === 'aborted' ? error : new CommitOutcomeUnknown(error)
    } finally {
      clearTimeout(deadline)
      // A failed client is destroyed by the pool instead of being handed out again.
      client.release(failure)
    }
  }
}

/** Closes a connection at once: its pending queries fail, and the server sees the session end. */
function cut(client: pg.PoolClient, timeoutMs: number) {
  if (client instanceof pg.Client) client.connection.stream.destroy(Object.assign(new Error(`transaction exceeded ${timeoutMs} ms`), { code: 'ETIMEDOUT' }))
}

type Outcome = 'committed' | 'aborted' | 'unknown'

/** What became of transaction `xid`, asked on other connections until it is decided or `timeoutMs` passes. */
async function commitOutcome(pool: pg.Pool, xid: string, timeoutMs: number): Promise<Outcome> {
  const until = performance.now() + timeoutMs
  while (performance.now() < until) {
    try {
      const { rows } = await pool.query<{ xact_status: string | null }>('select pg_xact_status($1::xid8) xact_status', [xid])
      const status = rows[0]?.xact_status
      if (status === 'committed') return 'committed'
      if (status === 'aborted') return 'aborted'
    } catch {
      // Not reachable yet: keep asking until the deadline.
    }
    await new Promise((resolve) => setTimeout(resolve, OUTCOME_POLL_MS))
  }
  return 'unknown'
}
