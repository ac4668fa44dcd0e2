import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import t from 'tap'
import { createTestUser } from './helpers/app.js'
import { listenLocally } from './helpers/http.js'
import * as images from './helpers/images.js'
import { projectRoot } from './helpers/process.js'
import { appWithStore } from './helpers/stores.js'

const CLIENTS = ['openapi-fetch', 'hey-api'] as const

async function run(command: string, args: string[], env: Record<string, string> = {}) {
  const child = spawn(command, args, { cwd: projectRoot, env: { PATH: process.env.PATH ?? '', ...env } })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const [code] = await once(child, 'exit')
  return { code, output }
}

// The clients an integrator gets from the committed document, each by its generator's
// documented usage, and a program doing the whole flow through each: typed with `--strict`,
// with no type assertion, and run against the app over real HTTP.
t.test('clients generated from openapi.yaml do the whole flow without a type assertion', async (t) => {
  const dir = t.testdir({ 'package.json': JSON.stringify({ type: 'module' }) })
  for (const name of CLIENTS) {
    mkdirSync(join(dir, name), { recursive: true })
    copyFileSync(join(projectRoot, 'examples/clients', name, 'flow.ts'), join(dir, name, 'flow.ts'))
  }

  const typed = await run(process.execPath, ['examples/clients/openapi-fetch/generate.mjs', 'openapi.yaml', join(dir, 'openapi-fetch/schema.d.ts')])
  t.equal(typed.code, 0, typed.code === 0 ? 'openapi-typescript generates the types' : typed.output)
  const sdk = await run(join(projectRoot, 'node_modules/.bin/openapi-ts'), ['-i', './openapi.yaml', '-o', join(dir, 'hey-api/client'), '-c', '@hey-api/client-fetch'])
  t.equal(sdk.code, 0, sdk.code === 0 ? '@hey-api/openapi-ts generates the client' : sdk.output)

  for (const name of CLIENTS) {
    const program = readFileSync(join(projectRoot, 'examples/clients', name, 'flow.ts'), 'utf8')
    t.notMatch(program, /\bas\s+(unknown|any|const|[A-Z{[(])|\bany\b|@ts-/, `${name}: no type assertion, any or @ts- comment`)
  }
  const flows = CLIENTS.map((name) => join(dir, name, 'flow.ts'))
  const tsc = join(projectRoot, 'node_modules/typescript/bin/tsc')
  const compiled = await run(process.execPath, [tsc, '--strict', '--skipLibCheck', 'false', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--rootDir', dir, '--outDir', join(dir, 'out'), ...flows])
  t.equal(compiled.code, 0, compiled.code === 0 ? 'both programs type-check with --strict' : compiled.output)

  const { app, names } = await appWithStore(t, 's3')
  const admin = await createTestUser(app, { admin: true })
  const url = await listenLocally(app)
  writeFileSync(join(dir, 'cover.jpg'), await images.jpeg())
  writeFileSync(join(dir, 'cover.png'), await images.png())
  const env = { API_URL: url, ADMIN_USERNAME: admin.username, ADMIN_PASSWORD: 'password123', COVER_JPEG: join(dir, 'cover.jpg'), COVER_PNG: join(dir, 'cover.png') }

  const posts: string[] = []
  for (const name of CLIENTS) {
    const flow = await run(process.execPath, [join(dir, 'out', name, 'flow.js')], env)
    t.equal(flow.code, 0, `${name}: ${flow.output}`)
    const result: { post: number; done: boolean } = JSON.parse(flow.output.trim().split('\n').at(-1) ?? '{}')
    t.equal(result.done, true, `${name} did the whole flow`)
    const post = (await app.inject({ url: `/api/v1/posts/${result.post}` })).json()
    posts.push(post.image.split('/').slice(-2).join('/'))
  }
  t.same(await names(), posts.sort(), 'the bucket holds the two posts\' images and nothing of the deleted books')
})
