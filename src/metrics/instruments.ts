import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { PoolFigures, QueryFailure } from '../db/client.js'

/**
 * Every series the service exports, defined once (the README's metrics table follows this
 * file). Labels only ever take values from small fixed sets: a route template, never a
 * URL; an error code from the catalogue, never a message; no ids of users or objects.
 *
 * The parts of the service record into the narrow interfaces below, so none of them
 * depends on the Prometheus client.
 */

/** What image processing reports: each image's outcome and time, and the images refused. */
export interface ImageObserver {
  /** `outcome` is `ok`, or the error code of a refused image in lower case; `error` for a failure. */
  processed(outcome: string, seconds: number): void
  /** An image turned away before or during processing: `queue_full`, or an error code in lower case. */
  refused(reason: string): void
}

/** What an object store reports of each call, retries included. */
export interface StoreObserver {
  /** `error` is undefined for a success, else `timeout`, `network` or `http_<status>`. */
  called(operation: string, seconds: number, error: string | undefined): void
}

/** Figures read when the endpoint is scraped: each is looked up then, never kept up to date. */
export interface Gauges {
  pool?: () => PoolFigures
  imageQueue?: () => { active: number; waiting: number }
  deletions?: () => Promise<{ pending: number; failed: number }>
}

// Seconds. Requests: a read takes milliseconds, an upload up to seconds.
const REQUEST_BUCKETS = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const IMAGE_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const STORE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

export class Metrics implements ImageObserver, StoreObserver {
  readonly registry = new Registry()

  readonly #requests = new Counter({ name: 'http_requests_total', help: 'HTTP requests answered, by method, route template and status code', labelNames: ['method', 'route', 'status_code'], registers: [this.registry] })
  readonly #requestSeconds = new Histogram({ name: 'http_request_duration_seconds', help: 'Time from the request arriving to its answer being sent, by method, route template and status code', labelNames: ['method', 'route', 'status_code'], buckets: REQUEST_BUCKETS, registers: [this.registry] })
  /** One pair of children per method, route and status: a request costs two map lookups, not a label hash. */
  readonly #requestSeries = new Map<string, { count: Counter.Internal; seconds: Histogram.Internal<'method' | 'route' | 'status_code'> }>()

  readonly #imageSeconds = new Histogram({ name: 'image_processing_duration_seconds', help: 'Time to decode, check and re-encode one image with its variants, by outcome', labelNames: ['outcome'], buckets: IMAGE_BUCKETS, registers: [this.registry] })
  readonly #imageRefusals = new Counter({ name: 'image_refusals_total', help: 'Images refused: queue_full when the processing queue is full, else the error code of the refused image', labelNames: ['reason'], registers: [this.registry] })
  readonly #uploadRefusals = new Counter({ name: 'upload_refusals_total', help: 'Uploads refused before their body is read: memory_budget (503) or per_address (429)', labelNames: ['reason'], registers: [this.registry] })
  readonly #rateLimited = new Counter({ name: 'rate_limit_refusals_total', help: 'Requests refused with 429 RATE_LIMITED, by route template', labelNames: ['route'], registers: [this.registry] })

  readonly #storeSeconds = new Histogram({ name: 's3_request_duration_seconds', help: 'Time of each S3 call, retries included, by operation and outcome', labelNames: ['operation', 'outcome'], buckets: STORE_BUCKETS, registers: [this.registry] })
  readonly #storeErrors = new Counter({ name: 's3_request_errors_total', help: 'S3 calls that failed, by operation and error: timeout, network or http_<status>', labelNames: ['operation', 'error'], registers: [this.registry] })

  readonly #queryErrors = new Counter({ name: 'db_query_errors_total', help: 'Database statements that failed: unavailable (connection lost, timeout), constraint (a unique or foreign key check) or statement (any other refusal)', labelNames: ['kind'], registers: [this.registry] })

  /**
   * Adds the figures read at each scrape. A source that is absent (no pool on the embedded
   * database) leaves its series out rather than reporting a zero.
   */
  watch(gauges: Gauges) {
    const gauge = (name: string, help: string, read: () => number | Promise<number>) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        async collect() {
          this.set(await read())
        }
      })
    const { pool, imageQueue, deletions } = gauges
    if (pool) {
      gauge('db_pool_connections_in_use', 'Database connections busy: held by a transaction, or pipelining statements', () => pool().inUse)
      gauge('db_pool_connections_idle', 'Pooled database connections open and idle', () => pool().idle)
      gauge('db_pool_requests_waiting', 'Transactions waiting for a database connection', () => pool().waiting)
      gauge('db_pool_connections_max', 'The most pooled database connections (DATABASE_POOL_MAX)', () => pool().max)
    }
    if (imageQueue) {
      gauge('image_processing_in_progress', 'Images being processed now', () => imageQueue().active)
      gauge('image_queue_depth', 'Images waiting for a processing slot', () => imageQueue().waiting)
    }
    if (deletions) {
      // Both series come from one query per scrape; NaN while the database does not answer.
      let reading: Promise<{ pending: number; failed: number }> | undefined
      const read = () => (reading ??= deletions().catch(() => ({ pending: NaN, failed: NaN })).finally(() => (reading = undefined)))
      gauge('media_deletions_pending', 'Media deletions scheduled in the outbox (claims of uploads in progress included)', async () => (await read()).pending)
      gauge('media_deletions_failed', 'Scheduled media deletions whose last attempt failed; they are retried', async () => (await read()).failed)
    }
  }

  request(method: string, route: string, status: number, seconds: number) {
    const key = `${method} ${status} ${route}`
    let series = this.#requestSeries.get(key)
    if (series === undefined) {
      const labels = { method, route, status_code: status }
      series = { count: this.#requests.labels(labels), seconds: this.#requestSeconds.labels(labels) }
      this.#requestSeries.set(key, series)
    }
    series.count.inc()
    series.seconds.observe(seconds)
  }

  processed(outcome: string, seconds: number) {
    this.#imageSeconds.observe({ outcome }, seconds)
  }

  refused(reason: string) {
    this.#imageRefusals.inc({ reason })
  }

  uploadRefused(reason: 'memory_budget' | 'per_address') {
    this.#uploadRefusals.inc({ reason })
  }

  rateLimited(route: string) {
    this.#rateLimited.inc({ route })
  }

  called(operation: string, seconds: number, error: string | undefined) {
    this.#storeSeconds.observe({ operation, outcome: error === undefined ? 'ok' : 'error' }, seconds)
    if (error !== undefined) this.#storeErrors.inc({ operation, error })
  }

  queryFailed(kind: QueryFailure) {
    this.#queryErrors.inc({ kind })
  }
}
