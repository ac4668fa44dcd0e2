import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { testStorage } from './helpers/database.js'
import * as images from './helpers/images.js'
import { projectRoot, startServer, type RunningServer } from './helpers/process.js'

/** The first `sh` block after a heading of the README, or the first one in it that starts with `starting`. */
function block(readme: string, heading: string, starting = ''): string {
  const section = readme.slice(readme.indexOf(`### ${heading}\n`))
  const found = new RegExp('```sh\\n(' + starting.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '[^]*?)```').exec(section)
  if (!found?.[1]) throw new Error(`no sh block under "${heading}"`)
  return found[1]
}

async function bash(script: string, cwd: string, env: Record<string, string>) {
  const child = spawn('bash', ['-c', script], { cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? cwd, ...env } })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const [code] = await once(child, 'exit')
  return { code: code as number | null, output }
}

/** A port nothing listens on now, so the server runs where the README's URLs can point. */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  server.close()
  if (typeof address !== 'object' || address === null) throw new Error('no port')
  return address.port
}

t.test("the README's walk-throughs work pasted in order, on a fresh data folder and again on a used one", async (t) => {
  const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8')
  const storage = await testStorage(t, 'readme')
  const port = await freePort()
  // As a reader runs it: no PUBLIC_URL, so links and image URLs are http://localhost:<port>.
  const base = `http://localhost:${port}`
  const env = { ...storage.env, PORT: String(port), MEDIA_RETRY_INTERVAL_MS: '0' }
  writeFileSync(join(storage.dataDir, 'photo.jpg'), await images.jpeg(800, 600))
  writeFileSync(join(storage.dataDir, 'cover.jpg'), await images.jpeg(400, 600))
  let server: RunningServer = await startServer(env)
  t.teardown(() => server.stop())

  // What differs from a reader's terminal: the server's port, and the admin command
  // runs the compiled script (the npm script would first rebuild dist/ under the other tests).
  const run = async (script: string) => {
    const { code, output } = await bash(script.replaceAll('http://localhost:3000', base).replaceAll('npm run create-admin --', `node ${join(projectRoot, 'dist/cli/create-admin.js')}`), storage.dataDir, env)
    t.equal(code, 0, code === 0 ? 'the block runs' : output)
    return output
  }

  const curl = block(readme, 'Try it with curl')
  const admin = block(readme, 'Admins', 'ADMIN_PASSWORD=')
  const post = block(readme, 'Publish a post with an image (admins)')
  const book = block(readme, 'Add a book with a cover, and review it (users)')
  const session = block(readme, 'Sessions: refresh, logout, password change')

  for (const pass of ['fresh', 'used']) {
    const first = await run(curl)
    t.match(first, pass === 'fresh' ? /"username":"alice".* 201\n/ : /"code":"USERNAME_TAKEN".* 409\n/, `${pass}: register`)
    t.match(first, /"username":"alice","email":"alice@example.com".* 200\n/, `${pass}: the token works`)
    t.match(first, /HTTP\/1.1 401 Unauthorized[^]*www-authenticate: Bearer/i, `${pass}: a bad token`)
    const sessions = await run(session)
    t.match(sessions, /^200\n\{"id":\d+,"username":"alice".* 200\n204\n\{.*"code":"SESSION_REVOKED".* 401\n$/, `${pass}: refreshed, then logged out`)

    // The embedded database belongs to one process: the admin command needs the server stopped.
    if (storage.databaseUrl === undefined) await server.stop()
    t.match(await run(admin), pass === 'fresh' ? /created/ : /unchanged/, `${pass}: create-admin`)
    if (storage.databaseUrl === undefined) server = await startServer(env)

    const posts = await run(post)
    t.match(posts, new RegExp(`^201 ${base}/api/v1/posts/\\d+$`, 'm'), `${pass}: the post is created, with its Location`)
    t.match(posts, /"is_published":true.* 200\n/, `${pass}: published`)
    t.match(posts, /HTTP\/1.1 200 OK[^]*content-type: image\/jpeg/i, `${pass}: its image is served`)
    t.match(posts, /^304$/m, `${pass}: revalidated with its ETag`)
    t.match(posts, /"image":null.* 200\n/, `${pass}: the image removed`)
    t.notMatch(posts, / (4\d\d|5\d\d)\n/, `${pass}: no post call fails`)

    const books = await run(book)
    t.match(books, pass === 'fresh' ? /alice: 409\nbob: 201/ : /alice: 409\nbob: 409/, `${pass}: alice is reused, bob registered once`)
    t.match(books, new RegExp(`^201 ${base}/api/v1/books/[0-9a-f-]{36}$`, 'm'), `${pass}: the book is created`)
    t.match(books, /"review":"A classic.".* 201\n/, `${pass}: reviewed`)
    t.match(books, /"code":"FORBIDDEN".* 403\n/, `${pass}: Bob may not edit it`)
    t.match(books, /"price":"9.99".*"cover":null.* 200\n/, `${pass}: Alice may`)
    t.match(books, /"count":\d+.*"Dune".* 200\n/, `${pass}: searched`)
    t.match(books, /"code":"VALIDATION_ERROR".*"errors":\[.*"field":"title".*"field":"price".* 400\n/, `${pass}: every bad field at once`)
  }
})
