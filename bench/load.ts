import { readFileSync } from 'node:fs'
import autocannon from 'autocannon'

export interface Measure {
  rps: number
  p50_ms: number
  p99_ms: number
  /** Failures, timeouts and non-2xx answers other than 503. */
  errors: number
  /** 503 answers: load the service shed on purpose (`SERVER_BUSY`, with `Retry-After`). */
  shed_503: number
  /** CPU time (all threads) the serving process spent per 2xx answer, in µs, when its pid is known. */
  cpu_us?: number
}

export interface Load {
  url: string
  connections: number
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: Buffer
  /** The status of an answer that did the work, when it is not a 2xx (a revalidation's 304). */
  expectStatus?: number
}

function run(load: Load, seconds: number) {
  return autocannon({
    url: load.url,
    connections: load.connections,
    duration: seconds,
    method: load.method ?? 'GET',
    headers: load.headers ?? {},
    ...(load.body ? { body: load.body } : {}),
    timeout: 30
  })
}

// Clock ticks of /proc/<pid>/stat; Linux reports them at 100 per second.
const TICK_US = 10_000

/** User plus system CPU time of a process, all its threads, in µs. */
function cpuTimeUs(pid: number): number {
  // The command name (field 2) may hold spaces; the fields after its ')' are fixed.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) * TICK_US
}

/**
 * Warms up, then measures for a fixed time; every error and non-2xx answer is counted.
 * Given the serving process, it also reports its CPU time per answer: on a machine the
 * load generator and the database share, that moves far less between runs than rps.
 */
export async function measure(load: Load, warmupSeconds: number, seconds: number, pid?: number): Promise<Measure> {
  await run(load, warmupSeconds)
  const cpuBefore = pid === undefined ? 0 : cpuTimeUs(pid)
  const result = await run(load, seconds)
  const cpu = pid === undefined ? undefined : cpuTimeUs(pid) - cpuBefore
  const shed = result.statusCodeStats?.['503']?.count ?? 0
  const status: `${number}` = `${load.expectStatus ?? 200}`
  const expected = load.expectStatus === undefined ? 0 : (result.statusCodeStats?.[status]?.count ?? 0)
  const done = load.expectStatus === undefined ? result['2xx'] : expected
  return {
    // Answers that did the work: quick 503s must not make a shedding service look fast.
    rps: Math.round((done / result.duration) * 10) / 10,
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx - expected - shed + (load.expectStatus === undefined ? 0 : result['2xx']),
    shed_503: shed,
    ...(cpu !== undefined && done > 0 ? { cpu_us: Math.round(cpu / done) } : {})
  }
}

/** The same statistics for work done in-process: `workers` loops for a fixed time. */
export async function measureInProcess(task: () => Promise<unknown>, workers: number, warmupSeconds: number, seconds: number): Promise<Measure> {
  const loop = async (until: number, latencies: number[], failures: { count: number }) => {
    while (Date.now() < until) {
      const started = performance.now()
      await task().catch(() => (failures.count += 1))
      latencies.push(performance.now() - started)
    }
  }
  await Promise.all(Array.from({ length: workers }, () => loop(Date.now() + warmupSeconds * 1000, [], { count: 0 })))
  const latencies: number[] = []
  const failures = { count: 0 }
  const started = Date.now()
  await Promise.all(Array.from({ length: workers }, () => loop(started + seconds * 1000, latencies, failures)))
  const elapsed = (Date.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  const at = (q: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0)
  return { rps: Math.round((latencies.length / elapsed) * 10) / 10, p50_ms: at(0.5), p99_ms: at(0.99), errors: failures.count, shed_503: 0 }
}
