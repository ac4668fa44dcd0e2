import { execFileSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { parse } from 'yaml'
import { loadConfig } from '../src/config.js'
import { projectRoot } from './helpers/process.js'

/**
 * No container runs here: these check what of compose.yaml can be checked without one. The
 * service's environment is read by the real configuration loader, and the init
 * container's script runs in bash (the mc image's shell) with `mc` recorded, not run.
 */

interface Service {
  environment?: Record<string, string>
  command?: string[]
  entrypoint?: string[]
  depends_on?: Record<string, { condition: string }>
  healthcheck?: { test: string[] }
}

const compose: { services: Record<string, Service> } = parse(readFileSync(join(projectRoot, 'compose.yaml'), 'utf8'))

/** Compose's interpolation: `$$` is a `$`; `${NAME:-default}` and `${NAME:?error}` read `given`. */
function interpolate(value: string, given: Record<string, string>): string {
  return value.replace(/\$\$|\$\{([A-Z_]+)(?::([-?])([^}]*))?\}/g, (_whole, name: string | undefined, kind: string | undefined, rest: string | undefined) => {
    if (name === undefined) return '$'
    const set = given[name]
    if (set !== undefined && set !== '') return set
    if (kind === '?') throw new Error(`${name}: ${rest}`)
    return rest ?? ''
  })
}

const environment = (service: Service, given: Record<string, string>) => Object.fromEntries(Object.entries(service.environment ?? {}).map(([name, value]) => [name, interpolate(String(value), given)]))

t.test('the service starts only once PostgreSQL is healthy and the bucket is set up, and its environment is valid production configuration', async (t) => {
  const api = compose.services.api!
  t.same(api.depends_on, { db: { condition: 'service_healthy' }, 'storage-init': { condition: 'service_completed_successfully' } })
  t.throws(() => environment(api, {}), /JWT_SECRET: set JWT_SECRET/, 'no secret ships in the file: compose refuses to start without one')

  const env = environment(api, { JWT_SECRET: 'x'.repeat(48) })
  const config = loadConfig(env)
  t.match(config, { env: 'production', publicUrl: 'http://localhost:3000', metricsToken: undefined, media: { driver: 's3', baseUrl: 'http://localhost:9000/content-media/media/', s3: { bucket: 'content-media', endpoint: 'http://minio:9000', forcePathStyle: true } } })
  t.equal(new URL(config.databaseUrl!).host, 'db:5432')
  const credentials = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']
  const unknown = Object.keys(env).filter((name) => !credentials.includes(name) && !new RegExp(`\\b${name}\\b`).test(readFileSync(join(projectRoot, '.env.example'), 'utf8')))
  t.same(unknown, [], 'every variable is one the service reads')

  const db = environment(compose.services.db!, {})
  t.equal(config.databaseUrl, `postgres://${db.POSTGRES_USER}:${db.POSTGRES_PASSWORD}@db:5432/${db.POSTGRES_DB}`, 'the URL names the database the PostgreSQL container creates')
  const init = environment(compose.services['storage-init']!, {})
  t.same([init.BUCKET, init.APP_KEY, init.APP_SECRET], [config.media.s3!.bucket, env.AWS_ACCESS_KEY_ID, env.AWS_SECRET_ACCESS_KEY], 'the init container makes the bucket and the user the service uses')
})

t.test("the init container's script fills the bucket into both policies and runs the MinIO client steps in order", async (t) => {
  const init = compose.services['storage-init']!
  t.same(init.entrypoint, ['/bin/sh', '-c'])
  const work = mkdtempSync(join(tmpdir(), 'compose-init-'))
  // The container's /iam and /tmp, moved into a scratch folder; `mc` records its arguments.
  const folders: Record<string, string> = { iam: join(projectRoot, 'docs/iam'), tmp: work }
  const script = interpolate(init.command![0]!, {}).replace(/\/(iam|tmp)\//g, (_path, folder: string) => `${folders[folder]}/`)
  writeFileSync(join(work, 'mc'), `#!/bin/sh\necho "$@" >> "${work}/mc.log"\n`)
  chmodSync(join(work, 'mc'), 0o755)
  // stdin not a socket: bash would take itself for a remote shell and read ~/.bashrc.
  execFileSync('bash', ['-c', script], { env: { ...environment(init, {}), PATH: `${work}:${process.env.PATH}` }, stdio: ['ignore', 'pipe', 'pipe'] })

  const bucketPolicy = JSON.parse(readFileSync(join(work, 'bucket-policy.json'), 'utf8'))
  t.same(bucketPolicy.Statement.map((statement: { Action: string; Resource: string; Principal: string }) => [statement.Principal, statement.Action, statement.Resource]), [['*', 's3:GetObject', 'arn:aws:s3:::content-media/media/*']], 'anonymous reads of media/* only')
  const appPolicy = JSON.parse(readFileSync(join(work, 'app-policy.json'), 'utf8'))
  t.same(appPolicy.Statement[0].Resource, 'arn:aws:s3:::content-media/media/*')
  t.same(readFileSync(join(work, 'mc.log'), 'utf8').trim().split('\n'), [
    'alias set local http://minio:9000 minio-admin minio-local-password',
    'mb --ignore-existing local/content-media',
    `anonymous set-json ${work}/bucket-policy.json local/content-media`,
    `admin policy create local content-api ${work}/app-policy.json`,
    'admin user add local content-api content-api-local-secret',
    'admin policy detach local content-api --user content-api',
    'admin policy attach local content-api --user content-api'
  ])
})
