import Fastify from 'fastify'
import pg from 'pg'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { openPipelinedPool } from '../src/db/postgres.js'

/**
 * The one-round-trip bound of the read scenarios: a bare Fastify server (no hooks, no
 * logging, no ORM) that, for each path, sends the very statements the service sends for
 * it (the same names, SQL text, parameters and row mode, on a pipelined pool with the
 * service's settings) and, once PostgreSQL has answered, writes the service's answer
 * bytes. What the service spends beyond it is its own per-request work.
 *
 * The statements are captured by answering each path once with the service itself, built
 * in this process on the same database, while the pg driver's queries are recorded.
 */
interface Route {
  statements: pg.QueryConfig[]
  body: string
}

const [pathsJson, envJson] = process.argv.slice(2)
const paths = JSON.parse(pathsJson!) as string[]
const env = JSON.parse(envJson!) as Record<string, string>

async function capture(): Promise<Map<string, Route>> {
  let recording: pg.QueryConfig[] | undefined
  const query = pg.Client.prototype.query
  pg.Client.prototype.query = function (this: pg.Client, config: unknown, ...rest: unknown[]) {
    if (recording && typeof config === 'object' && config !== null) recording.push({ ...(config as pg.QueryConfig), values: (rest[0] as unknown[] | undefined) ?? (config as pg.QueryConfig).values })
    return (query as (...args: unknown[]) => unknown).call(this, config, ...rest)
  } as typeof query
  const config = loadConfig({ ...env, LOG_LEVEL: 'silent' })
  const service = await buildApp({ ...config, jwtSecret: env.JWT_SECRET! })
  const routes = new Map<string, Route>()
  try {
    for (const path of paths) {
      await service.inject({ url: path }) // prepares its statements, as a warm service has
      recording = []
      const answer = await service.inject({ url: path })
      routes.set(path, { statements: recording, body: answer.body })
      recording = undefined
    }
  } finally {
    await service.close()
    pg.Client.prototype.query = query
  }
  return routes
}

const routes = await capture()
const pool = openPipelinedPool(env.DATABASE_URL!, 10, 5000)
const app = Fastify({ logger: false })
app.get('/*', async (request, reply) => {
  const route = routes.get(request.url)
  if (!route) return reply.code(404).send()
  // Statements of one answer go out together, as the service sends a book and its reviews.
  await Promise.all(route.statements.map((statement) => pool.query(statement)))
  return reply.type('application/json; charset=utf-8').send(route.body)
})
await app.listen({ host: '127.0.0.1', port: 0 })
const address = app.server.address()
process.send?.({ port: typeof address === 'object' && address ? address.port : 0, statements: Object.fromEntries([...routes].map(([path, route]) => [path, route.statements.length])) })
process.on('SIGTERM', () => void Promise.all([app.close(), pool.end()]).then(() => process.exit(0)))
