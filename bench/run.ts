import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { openDatabase } from '../src/db/client.js'
import { migrateDatabase } from '../src/db/migrate.js'
import { normalizeImage } from '../src/media/image.js'
import { createImageQueue } from '../src/media/image.js'
import { createS3Store } from '../src/media/s3.js'
import { newMediaName, variantName } from '../src/media/store.js'
import { loadConfig } from '../src/config.js'
import { createScratchDatabase } from '../test/helpers/database.js'
import { buildRef, thisBuild, type Build } from './builds.js'
import { multipartBody, photo } from './images.js'
import { measure, measureInProcess, type Load, type Measure } from './load.js'
import { peakRss, root, startHelper, startService, stop } from './processes.js'
import { PASSWORD, seed } from './seed.js'

const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 3)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
// Each scenario (and its ceiling) runs this many times, interleaved, so the spread shows the noise.
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 2))
const READ_CONNECTIONS = 10
const SERVICE_PORT = 3990
const BUCKET = 'bench-bucket'
const cores = cpus().length
// BENCH_ONLY=a,c runs only those scenarios (handy while profiling one of them).
const only = process.env.BENCH_ONLY?.split(',').map((letter) => `(${letter.trim()})`)
const selected = (scenario: string) => !only || only.some((prefix) => scenario.startsWith(prefix))
// `npm run bench -- --compare <git-ref>` measures that commit's build beside this one.
const compareIndex = process.argv.indexOf('--compare')
const compareRef = compareIndex === -1 ? undefined : process.argv[compareIndex + 1]

interface Spread {
  median: number
  min: number
  max: number
}

interface Row {
  scenario: string
  rps: number
  rps_spread: string
  p50_ms: number
  p99_ms: number
  errors: number
  shed_503: number
  ceiling_rps: number
  ratio: number
  ratio_spread: string
  /** Read scenarios: the one-round-trip bound (bench/bound-server.ts) and the ratio to it. */
  bound_rps?: number
  ratio_bound?: number
  ratio_bound_spread?: string
  peak_rss_mb: number
  /** CPU time the service process spent per answer (µs, all threads; the median of the rounds). */
  cpu_us?: number
  /** The same for the bound's process: what the service spends beyond it is its own work. */
  bound_cpu_us?: number
  /** With --compare: this build's throughput over the other's, per round. */
  vs_other?: number
  vs_other_spread?: string
  other_rps?: number
}

interface Target {
  build: Build
  base: string
  pid: number
}

/** A fresh database on the configured PostgreSQL server, or (with a warning) embedded PGlite. */
async function freshDatabase(): Promise<{ url: string | undefined; drop: () => Promise<void> }> {
  const server = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL
  if (!server) {
    console.warn('warning: no BENCH_DATABASE_URL or TEST_DATABASE_URL; measuring on embedded PGlite, which is not what production runs')
    return { url: undefined, drop: async () => {} }
  }
  return createScratchDatabase(server, 'bench')
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
  const builds = [thisBuild]
  const services: Array<Awaited<ReturnType<typeof startService>>> = []
  let bound: Awaited<ReturnType<typeof startHelper<{ port: number }>>> | undefined
  try {
    if (compareRef !== undefined) {
      if (database.url === undefined) throw new Error('--compare runs two services on one database: set BENCH_DATABASE_URL or TEST_DATABASE_URL')
      console.log(`building ${compareRef} in a temporary work tree...`)
      builds.push(buildRef(compareRef))
    }
    console.log('preparing images and seeding...')
    const cover = await photo(640, 480, 90)
    const big = await photo(4000, 3000, 88)
    const limits = { maxBytes: 10 * 1024 * 1024, maxPixels: 40_000_000, maxSide: 12_000, processTimeoutMs: 5000 }
    const opened = openDatabase({ databaseUrl: database.url, dataDir: join(work, 'data'), poolMax: 4 })
    await migrateDatabase(opened)
    const variants = loadConfig({}).media.variants
    const seeded = await seed(opened.db, store, await normalizeImage(cover, limits, variants))
    await opened.close()

    const targets: Target[] = []
    for (const [i, build] of builds.entries()) {
      const port = SERVICE_PORT + i
      const child = await startService(serviceEnv(work, database.url, endpoint, port), port, build.dir)
      services.push(child)
      targets.push({ build, base: `http://127.0.0.1:${port}`, pid: child.pid! })
    }
    const base = targets[0]!.base
    const login = await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: seeded.username, password: PASSWORD }) })
    const { access_token: token } = (await login.json()) as { access_token: string }

    const rows: Row[] = []
    const reads: Array<[string, string]> = [
      ['(a) GET /api/v1/posts?page=1', '/api/v1/posts?page=1'],
      ['(b) GET /api/v1/posts/{id}', `/api/v1/posts/${seeded.postId}`],
      ['(c) GET /api/v1/books/{id} with 10 reviews', `/api/v1/books/${seeded.bookId}`],
      ['(h) GET /api/v1/books?search=number 12', '/api/v1/books?search=number%2012']
    ]
    const answers = await Promise.all(reads.map(async ([, path]) => [path, await (await fetch(`${base}${path}`)).text()] as [string, string]))
    bare.child.send({ answers })
    await new Promise((resolve) => bare.child.once('message', resolve))
    bound = await startHelper<{ port: number }>('./bound-server.ts', [JSON.stringify(answers.map(([path]) => path)), JSON.stringify(serviceEnv(work, database.url, endpoint, SERVICE_PORT))])
    const boundBase = `http://127.0.0.1:${bound.first.port}`
    await checkSameAnswers(answers, boundBase)
    for (const [scenario, path] of reads.filter(([scenario]) => selected(scenario))) {
      console.log(`running ${scenario}`)
      const ceiling = () => measure({ url: `http://127.0.0.1:${bare.first.port}${path}`, connections: READ_CONNECTIONS }, WARMUP, SECONDS, bare.child.pid)
      const oneRoundTrip = () => measure({ url: `${boundBase}${path}`, connections: READ_CONNECTIONS }, WARMUP, SECONDS, bound?.child.pid)
      rows.push(await rounds(scenario, targets, (target) => ({ url: `${target.base}${path}`, connections: READ_CONNECTIONS }), ceiling, oneRoundTrip))
    }
    // A client revalidating the book detail of (c): the whole read, then a 304 instead of the body.
    const revalidation = '(i) GET /api/v1/books/{id}, If-None-Match current: 304'
    if (selected(revalidation)) {
      const path = reads[2]![1]
      const etag = (await fetch(`${base}${path}`)).headers.get('etag')
      if (etag === null) throw new Error(`${path} sends no ETag`)
      console.log(`running ${revalidation}`)
      const ceiling = () => measure({ url: `http://127.0.0.1:${bare.first.port}${path}`, connections: READ_CONNECTIONS }, WARMUP, SECONDS, bare.child.pid)
      const load = (target: Target): Load => ({ url: `${target.base}${path}`, connections: READ_CONNECTIONS, headers: { 'if-none-match': etag }, expectStatus: 304 })
      // This build only: one without ETags answers 200, so a comparison would say nothing.
      rows.push(await rounds(revalidation, targets.slice(0, 1), load, ceiling))
    }

    // Under 16 clients a 12-megapixel upload waits about 10 s for its answer: a window that
    // short would count mostly what the warm-up left in flight, so (e) measures longer.
    const uploads: Array<[string, Buffer, number, number]> = [
      ['(d) POST /api/v1/books, ~200 KB cover, 8 clients', cover, 8, SECONDS],
      ['(e) POST /api/v1/books, ~8 MB 12 MP photo, 16 clients', big, 16, Math.max(SECONDS, 40)]
    ]
    for (const [scenario, bytes, connections, seconds] of uploads.filter(([scenario]) => selected(scenario))) {
      console.log(`running ${scenario} (${Math.round(bytes.length / 1024)} KB)`)
      const form = multipartBody({ title: 'Benchmark book', author: 'Load Generator', price: '12.50' }, { name: 'cover', bytes, filename: 'cover.jpg' })
      const load = (target: Target): Load => ({ url: `${target.base}/api/v1/books`, connections, method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': form.contentType }, body: form.body })
      // The ceiling: the same normalization with the default variants (and processing cap)
      // plus a PutObject of each object, in this process.
      const queue = createImageQueue(cores, 1000)
      const ceiling = () =>
        measureInProcess(async () => {
          const image = await queue.run(() => normalizeImage(bytes, limits, variants))
          const name = newMediaName('covers', image.extension)
          await Promise.all([store.put(name, image.data, image.contentType), ...image.variants.map((v) => store.put(variantName(name, v.width, v.extension), v.data, v.contentType))])
        }, connections, WARMUP, seconds)
      rows.push(await rounds(scenario, targets, load, ceiling, undefined, seconds))
    }
    report(rows, builds[1]?.label)
  } finally {
    await Promise.all(services.map((child) => stop(child)))
    await Promise.all([stop(s3.child), stop(bare.child), stop(bound?.child)])
    await database.drop()
    for (const build of builds) build.remove()
    rmSync(work, { recursive: true, force: true })
  }
}

/** The service as production runs it, on the shared database and S3 server. */
function serviceEnv(work: string, databaseUrl: string | undefined, endpoint: string, port: number): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    NODE_ENV: 'production',
    // As the Docker image runs it: one glibc arena per libvips thread inflates RSS.
    MALLOC_ARENA_MAX: '2',
    LOG_LEVEL: 'warn',
    JWT_SECRET: SECRET,
    DATA_DIR: join(work, 'data'),
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    S3_BUCKET: BUCKET,
    S3_ENDPOINT: endpoint,
    S3_FORCE_PATH_STYLE: 'true',
    S3_TIMEOUT_MS: '30000',
    // The load generator stands for many clients from one address.
    MEDIA_UPLOADS_PER_ADDRESS: '1000',
    // As production should run it: with metrics, so every figure includes their cost.
    METRICS_TOKEN: 'bench-metrics-token-0123456789',
    PUBLIC_URL: `http://127.0.0.1:${port}`
  }
}

// Every build verifies the tokens of every other: one login serves them all.
const SECRET = randomBytes(32).toString('hex')

/** The bound must answer what the service answers, or its figure means nothing. */
async function checkSameAnswers(answers: Array<[string, string]>, boundBase: string) {
  for (const [path, body] of answers) {
    const bound = await (await fetch(`${boundBase}${path}`)).text()
    if (bound !== body) throw new Error(`the one-round-trip bound answers ${path} differently from the service:\n${bound.slice(0, 300)}\n${body.slice(0, 300)}`)
  }
}

/**
 * Runs a scenario ROUNDS times: each build in turn (A B, then B A), then the ceiling and the
 * bound, so slow phases of a shared machine fall on every contender alike.
 */
async function rounds(scenario: string, targets: Target[], load: (target: Target) => Load, ceiling: () => Promise<Measure>, bound?: () => Promise<Measure>, seconds = SECONDS): Promise<Row> {
  const runs = targets.map(() => [] as Array<Measure & { peakMb: number }>)
  const ceilings: Measure[] = []
  const bounds: Measure[] = []
  for (let round = 0; round < ROUNDS; round++) {
    // A B, then B A: neither build always runs first, right after the other's load.
    const order = round % 2 === 0 ? [...targets.keys()] : [...targets.keys()].reverse()
    for (const i of order) {
      const target = targets[i]!
      const { result, peakMb } = await peakRss(target.pid, () => measure(load(target), WARMUP, seconds, target.pid))
      runs[i]!.push({ ...result, peakMb })
    }
    ceilings.push(await ceiling())
    if (bound) bounds.push(await bound())
  }
  const mine = runs[0]!
  const rps = spread(mine.map((m) => m.rps))
  const ratios = spread(mine.map((m, i) => (ceilings[i]!.rps > 0 ? m.rps / ceilings[i]!.rps : 0)))
  const row: Row = {
    scenario,
    rps: round1(rps.median),
    rps_spread: range(rps, 0),
    p50_ms: spread(mine.map((m) => m.p50_ms)).median,
    p99_ms: spread(mine.map((m) => m.p99_ms)).median,
    errors: sum(mine.map((m) => m.errors)),
    shed_503: sum(mine.map((m) => m.shed_503)),
    ceiling_rps: round1(spread(ceilings.map((m) => m.rps)).median),
    ratio: round2(ratios.median),
    ratio_spread: range(ratios, 2),
    peak_rss_mb: Math.max(...mine.map((m) => m.peakMb)),
    ...medianOf('cpu_us', mine)
  }
  if (bounds.length > 0) {
    const ratios = spread(mine.map((m, i) => m.rps / bounds[i]!.rps))
    Object.assign(row, { bound_rps: round1(spread(bounds.map((m) => m.rps)).median), ratio_bound: round2(ratios.median), ratio_bound_spread: range(ratios, 2), ...medianOf('bound_cpu_us', bounds) })
  }
  const other = runs[1]
  const measured = other && mine.flatMap((m, i) => (other[i]!.rps > 0 ? [m.rps / other[i]!.rps] : []))
  if (other && measured && measured.length > 0) {
    const versus = spread(measured)
    Object.assign(row, { vs_other: round2(versus.median), vs_other_spread: range(versus, 2), other_rps: round1(spread(other.map((m) => m.rps)).median) })
  }
  return row
}

function spread(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length / 2
  const median = sorted.length % 2 ? sorted[Math.floor(middle)]! : (sorted[middle - 1]! + sorted[middle]!) / 2
  return { median, min: sorted[0]!, max: sorted.at(-1)! }
}

/** `{ [name]: median cpu_us }` when every run measured it. */
function medianOf(name: 'cpu_us' | 'bound_cpu_us', runs: Measure[]) {
  const values = runs.flatMap((m) => (m.cpu_us === undefined ? [] : [m.cpu_us]))
  return values.length === runs.length ? { [name]: Math.round(spread(values).median) } : {}
}

const round1 = (value: number) => Math.round(value * 10) / 10
const round2 = (value: number) => Math.round(value * 100) / 100
const range = ({ min, max }: Spread, digits: number) => `${min.toFixed(digits)}-${max.toFixed(digits)}`
const sum = (values: number[]) => values.reduce((total, value) => total + value, 0)

function report(rows: Row[], otherLabel: string | undefined) {
  const machine = { cpus: `${cores} x ${cpus()[0]?.model ?? 'unknown'}`, memory_gb: Math.round(totalmem() / 2 ** 30), node: process.version, database: process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL ? 'postgresql' : 'pglite' }
  console.log(`\nmachine: ${machine.cpus}, ${machine.memory_gb} GB, Node ${machine.node}, ${machine.database}; ${ROUNDS} rounds of ${SECONDS} s per run after ${WARMUP} s of warm-up\n`)
  console.table(
    rows.map((row) => ({
      scenario: row.scenario.slice(0, 36),
      rps: `${row.rps} (${row.rps_spread})`,
      p99_ms: row.p99_ms,
      errors: row.errors,
      shed_503: row.shed_503,
      ratio: `${row.ratio} (${row.ratio_spread})`,
      ratio_bound: row.ratio_bound === undefined ? '' : `${row.ratio_bound} (${row.ratio_bound_spread})`,
      cpu_us: row.cpu_us === undefined ? '' : `${row.cpu_us}${row.bound_cpu_us === undefined ? '' : ` / ${row.bound_cpu_us}`}`,
      rss_mb: row.peak_rss_mb,
      ...(otherLabel ? { [`${otherLabel} rps`]: row.other_rps, [`this/${otherLabel}`]: `${row.vs_other} (${row.vs_other_spread})` } : {})
    }))
  )
  console.log('rps: median (min-max of the rounds); ratio: over the in-memory ceiling; ratio_bound: over the one-round-trip bound; cpu_us: CPU time of the service per answer (/ of the bound)')
  if (otherLabel) {
    console.log(`this/${otherLabel} is this build's throughput over ${otherLabel}'s, the median of ${ROUNDS} interleaved rounds (their spread beside it)`)
    return console.log('a comparison is not written to bench/results.json')
  }
  const results = Object.fromEntries(rows.map(({ scenario, ...figures }) => [scenario, figures]))
  writeFileSync(join(root, 'bench', 'results.json'), `${JSON.stringify({ machine, rounds: ROUNDS, seconds: SECONDS, warmup_seconds: WARMUP, scenarios: results }, null, 2)}\n`)
  console.log('every figure is written to bench/results.json')
}

await main()
