import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { openDatabase } from '../src/db/client.js'
import { migrateDatabase } from '../src/db/migrate.js'
import { normalizeImage } from '../src/media/image.js'
import { createImageQueue } from '../src/media/queue.js'
import { createS3Store } from '../src/media/s3.js'
import { newMediaName } from '../src/media/store.js'
import { multipartBody, photo } from './images.js'
import { measure, measureInProcess, type Measure } from './load.js'
import { peakRss, root, startHelper, startService, stop } from './processes.js'
import { PASSWORD, seed } from './seed.js'

const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 3)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const READ_CONNECTIONS = 10
const SERVICE_PORT = 3990
const BUCKET = 'bench-bucket'
const cores = cpus().length
// BENCH_ONLY=a,c runs only those scenarios (handy while profiling one of them).
const only = process.env.BENCH_ONLY?.split(',').map((letter) => `(${letter.trim()})`)
const selected = (scenario: string) => !only || only.some((prefix) => scenario.startsWith(prefix))

interface Row extends Measure {
  scenario: string
  ceiling_rps: number
  ratio: number
  peak_rss_mb: number | null
}

/** A fresh database on the configured PostgreSQL server, or (with a warning) embedded PGlite. */
async function freshDatabase(): Promise<{ url: string | undefined; drop: () => Promise<void> }> {
  const server = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL
  if (!server) {
    console.warn('warning: no BENCH_DATABASE_URL or TEST_DATABASE_URL; measuring on embedded PGlite, which is not what production runs')
    return { url: undefined, drop: async () => {} }
  }
  const name = `bench_${randomBytes(4).toString('hex')}`
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: server })
    await client.connect()
    await client.query(sql).finally(() => client.end())
  }
  await admin(`CREATE DATABASE ${name}`)
  const url = new URL(server)
  url.pathname = `/${name}`
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) }
}

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'bench-'))
  const database = await freshDatabase()
  const s3 = await startHelper<{ port: number }>('./s3-server.ts', [join(work, 's3')])
  const credentials = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' }
  Object.assign(process.env, credentials)
  const endpoint = `http://127.0.0.1:${s3.first.port}`
  const store = createS3Store({ bucket: BUCKET, region: 'us-east-1', endpoint, forcePathStyle: true, timeoutMs: 30_000, prefix: 'media', baseUrl: `${endpoint}/${BUCKET}/media/` })
  const bare = await startHelper<{ port: number }>('./bare-server.ts')
  let service: Awaited<ReturnType<typeof startService>> | undefined
  try {
    console.log('preparing images and seeding...')
    const cover = await photo(640, 480, 90)
    const big = await photo(4000, 3000, 88)
    const limits = { maxBytes: 10 * 1024 * 1024, maxPixels: 40_000_000, maxSide: 12_000, processTimeoutMs: 5000 }
    const opened = openDatabase({ databaseUrl: database.url, dataDir: join(work, 'data'), poolMax: 4 })
    await migrateDatabase(opened)
    const seeded = await seed(opened.db, store, await normalizeImage(cover, limits))
    await opened.close()

    service = await startService(
      {
        ...credentials,
        NODE_ENV: 'production',
        // As the Docker image runs it: one glibc arena per libvips thread inflates RSS.
        MALLOC_ARENA_MAX: '2',
        LOG_LEVEL: 'warn',
        JWT_SECRET: randomBytes(32).toString('hex'),
        DATA_DIR: join(work, 'data'),
        ...(database.url ? { DATABASE_URL: database.url } : {}),
        S3_BUCKET: BUCKET,
        S3_ENDPOINT: endpoint,
        S3_FORCE_PATH_STYLE: 'true',
        S3_TIMEOUT_MS: '30000',
        PUBLIC_URL: `http://127.0.0.1:${SERVICE_PORT}`
      },
      SERVICE_PORT
    )
    const base = `http://127.0.0.1:${SERVICE_PORT}`
    const login = await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: seeded.username, password: PASSWORD }) })
    const { access_token: token } = (await login.json()) as { access_token: string }

    const rows: Row[] = []
    const reads: Array<[string, string]> = [
      ['(a) GET /api/v1/posts?page=1', '/api/v1/posts?page=1'],
      ['(b) GET /api/v1/posts/{id}', `/api/v1/posts/${seeded.postId}`],
      ['(c) GET /api/v1/books/{id} with 10 reviews', `/api/v1/books/${seeded.bookId}`]
    ]
    const answers = await Promise.all(reads.map(async ([, path]) => [path, await (await fetch(`${base}${path}`)).text()] as [string, string]))
    bare.child.send({ answers })
    await new Promise((resolve) => bare.child.once('message', resolve))
    for (const [scenario, path] of reads.filter(([scenario]) => selected(scenario))) {
      console.log(`running ${scenario}`)
      const { result, peakMb } = await peakRss(service.pid!, () => measure({ url: `${base}${path}`, connections: READ_CONNECTIONS }, WARMUP, SECONDS))
      const ceiling = await measure({ url: `http://127.0.0.1:${bare.first.port}${path}`, connections: READ_CONNECTIONS }, WARMUP, SECONDS)
      rows.push(row(scenario, result, ceiling, peakMb))
    }

    const uploads: Array<[string, Buffer, number]> = [
      ['(d) POST /api/v1/books, ~200 KB cover, 8 clients', cover, 8],
      ['(e) POST /api/v1/books, ~8 MB 12 MP photo, 16 clients', big, 16]
    ]
    for (const [scenario, bytes, connections] of uploads.filter(([scenario]) => selected(scenario))) {
      console.log(`running ${scenario} (${Math.round(bytes.length / 1024)} KB)`)
      const form = multipartBody({ title: 'Benchmark book', author: 'Load Generator', price: '12.50' }, { name: 'cover', bytes, filename: 'cover.jpg' })
      const load = { url: `${base}/api/v1/books`, connections, method: 'POST' as const, headers: { authorization: `Bearer ${token}`, 'content-type': form.contentType }, body: form.body }
      const { result, peakMb } = await peakRss(service.pid!, () => measure(load, WARMUP, SECONDS))
      // The ceiling: the same normalization (and processing cap) plus PutObject, in this process.
      const queue = createImageQueue(cores, 1000)
      const ceiling = await measureInProcess(async () => {
        const image = await queue.run(() => normalizeImage(bytes, limits))
        await store.put(newMediaName('covers', image.extension), image.data, image.contentType)
      }, connections, WARMUP, SECONDS)
      rows.push(row(scenario, result, ceiling, peakMb))
    }
    report(rows)
  } finally {
    await stop(service)
    await Promise.all([stop(s3.child), stop(bare.child)])
    await database.drop()
    rmSync(work, { recursive: true, force: true })
  }
}

function row(scenario: string, result: Measure, ceiling: Measure, peakMb: number): Row {
  return { scenario, ...result, ceiling_rps: ceiling.rps, ratio: Math.round((result.rps / ceiling.rps) * 100) / 100, peak_rss_mb: peakMb }
}

function report(rows: Row[]) {
  const machine = { cpus: `${cores} x ${cpus()[0]?.model ?? 'unknown'}`, memory_gb: Math.round(totalmem() / 2 ** 30), node: process.version, database: process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL ? 'postgresql' : 'pglite' }
  console.log(`\nmachine: ${machine.cpus}, ${machine.memory_gb} GB, Node ${machine.node}, ${machine.database}; ${SECONDS} s per run after ${WARMUP} s of warm-up\n`)
  console.table(rows.map(({ scenario, ...figures }) => ({ scenario, ...figures })))
  const results = Object.fromEntries(rows.map(({ scenario, ...figures }) => [scenario, figures]))
  writeFileSync(join(root, 'bench', 'results.json'), `${JSON.stringify({ machine, seconds: SECONDS, warmup_seconds: WARMUP, scenarios: results }, null, 2)}\n`)
  console.log('written to bench/results.json')
}

await main()
