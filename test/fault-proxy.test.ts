import { once } from 'node:events'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.js'

const HOST = '127.0.0.1'
// How long "nothing happens" is watched for: long enough for loopback, short for the suite.
const QUIET_MS = 300

/** One end of a connection as a test sees it: what it received, whether and how it closed. */
interface Peer {
  readonly socket: Socket
  text(): string
  size(): number
  isClosed(): boolean
  readonly closed: Promise<void>
  error: NodeJS.ErrnoException | undefined
}

function record(socket: Socket): Peer {
  const chunks: Buffer[] = []
  let size = 0
  let closed = false
  const peer: Peer = {
    socket,
    text: () => Buffer.concat(chunks).toString(),
    size: () => size,
    isClosed: () => closed,
    // Not events.once: it would reject on the 'error' that a reset brings before 'close'.
    closed: new Promise((resolve) =>
      socket.once('close', () => {
        closed = true
        resolve()
      })
    ),
    error: undefined
  }
  socket.on('error', (error: NodeJS.ErrnoException) => (peer.error = error))
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk)
    size += chunk.length
  })
  return peer
}

/** Polls until `ready` holds, failing the test after 500 ms rather than hanging it. */
async function until(ready: () => boolean, what = 'the condition'): Promise<void> {
  for (const started = Date.now(); !ready(); await sleep(5)) {
    if (Date.now() - started > 500) throw new Error(`timed out waiting for ${what}`)
  }
}

/** An echo server that records, per connection, every byte it received. */
async function startEcho(t: Test) {
  const accepted: Peer[] = []
  const server = createServer((socket) => {
    accepted.push(record(socket))
    socket.on('data', (chunk: Buffer) => socket.write(chunk))
  })
  server.listen(0, HOST)
  await once(server, 'listening')
  t.teardown(() => {
    for (const peer of accepted) peer.socket.destroy()
    server.close()
  })
  return { port: (server.address() as AddressInfo).port, accepted }
}

async function setup(t: Test) {
  const echo = await startEcho(t)
  const proxy = await startFaultProxy({ host: HOST, port: echo.port }, t)
  return { echo, proxy }
}

function dial(proxy: FaultProxy, allowHalfOpen = false): Peer {
  return record(connect({ host: proxy.host, port: proxy.port, allowHalfOpen }))
}

/** Sends `text` and waits for its echo, so the connection is known to be through. */
async function roundTrip(peer: Peer, text: string): Promise<void> {
  const expected = peer.text() + text
  peer.socket.write(text)
  await until(() => peer.text() === expected, `the echo of ${JSON.stringify(text)}`)
}

t.test('pass forwards both ways and carries closes over, half-open ones too', async (t) => {
  const { echo, proxy } = await setup(t)
  t.equal(proxy.host, HOST)
  const client = dial(proxy)
  await roundTrip(client, 'hello')
  t.equal(proxy.open, 1)
  client.socket.end()
  await Promise.all([client.closed, echo.accepted[0]!.closed])
  await until(() => proxy.open === 0, 'no open connection')

  // A client that ends its side at once still gets the reply.
  const halfOpen = dial(proxy, true)
  halfOpen.socket.end('late')
  await halfOpen.closed
  t.equal(halfOpen.text(), 'late')
})

t.test('pass keeps large transfers whole', async (t) => {
  const { proxy } = await setup(t)
  const client = dial(proxy)
  const payload = Buffer.alloc(1024 * 1024, 'x')
  client.socket.write(payload)
  await until(() => client.size() === payload.length, 'the whole echo')
  t.equal(client.text(), payload.toString())
})

t.test('refuse resets new connections and leaves existing ones alone', async (t) => {
  const { echo, proxy } = await setup(t)
  const existing = dial(proxy)
  await roundTrip(existing, 'a')
  proxy.set({ kind: 'refuse' })
  const refused = dial(proxy)
  refused.socket.write('never')
  await refused.closed
  t.equal(refused.text(), '')
  if (refused.error) t.equal(refused.error.code, 'ECONNRESET')
  t.equal(echo.accepted.length, 1, 'the target never saw the refused connection')
  await roundTrip(existing, 'b')
  proxy.set({ kind: 'pass' })
  await roundTrip(dial(proxy), 'c')
})

t.test('blackhole answers nothing and closes nothing, until the fault is lifted', async (t) => {
  const { echo, proxy } = await setup(t)
  const existing = dial(proxy)
  await roundTrip(existing, 'a')
  proxy.set({ kind: 'blackhole' })
  const fresh = dial(proxy)
  existing.socket.write('b')
  fresh.socket.write('x')
  await until(() => echo.accepted.length === 2, 'the target connection of the new client')
  // The target goes away; a blackhole does not tell the client.
  echo.accepted[0]!.socket.end()
  await sleep(QUIET_MS)
  t.equal(existing.text(), 'a')
  t.equal(fresh.text(), '')
  t.same(
    echo.accepted.map((peer) => peer.text()),
    ['a', ''],
    'the target got nothing'
  )
  t.notOk(existing.isClosed() || fresh.isClosed(), 'both clients are still connected')
  t.equal(proxy.open, 2)

  proxy.set({ kind: 'pass' })
  await existing.closed
  t.pass('the close held back by the blackhole arrives once it is lifted')
  await roundTrip(fresh, 'y')
  t.equal(fresh.text(), 'y', 'bytes sent into the blackhole are gone')
})

t.test('drop-replies lets the request through and never answers', async (t) => {
  const { echo, proxy } = await setup(t)
  proxy.set({ kind: 'drop-replies' })
  const client = dial(proxy)
  client.socket.write('ping')
  await until(() => echo.accepted[0]?.text() === 'ping', 'the request at the target')
  await sleep(QUIET_MS)
  t.equal(client.text(), '')
  t.notOk(client.isClosed())
})

t.test('cut-after-bytes to the target forwards exactly that many bytes, on new connections only', async (t) => {
  const { echo, proxy } = await setup(t)
  const existing = dial(proxy)
  await roundTrip(existing, 'ab')
  proxy.set({ kind: 'cut-after-bytes', direction: 'to-target', bytes: 5 })
  const client = dial(proxy)
  await roundTrip(client, '012')
  client.socket.write('3456789')
  await Promise.all([client.closed, echo.accepted[1]!.closed])
  t.equal(echo.accepted[1]!.text(), '01234')
  t.equal(client.text(), '012')
  t.equal(proxy.fired, 1)
  await roundTrip(existing, '0123456789')
  t.pass('the connection opened before the fault has no budget')
})

t.test('cut-after-bytes to the client delivers exactly that many bytes', async (t) => {
  const { echo, proxy } = await setup(t)
  proxy.set({ kind: 'cut-after-bytes', direction: 'to-client', bytes: 3 })
  const client = dial(proxy)
  client.socket.write('hello')
  await client.closed
  t.equal(client.text(), 'hel')
  await until(() => echo.accepted[0]?.isClosed() === true, 'the target side closed')
  t.equal(echo.accepted[0]!.text(), 'hello')
  t.equal(proxy.fired, 1)
})

t.test('cut-on-match with forward delivers the matching chunk and no reply, then passes', async (t) => {
  const { echo, proxy } = await setup(t)
  proxy.set({ kind: 'cut-on-match', match: 'COMMIT', forward: true })
  const client = dial(proxy)
  // The match is split across two chunks.
  await roundTrip(client, 'BEGIN;COM')
  client.socket.write('MIT;')
  await Promise.all([client.closed, echo.accepted[0]!.closed])
  t.equal(echo.accepted[0]!.text(), 'BEGIN;COMMIT;', 'the target got the COMMIT')
  t.equal(client.text(), 'BEGIN;COM', 'the client got no reply to it')
  t.equal(proxy.fired, 1)
  await roundTrip(dial(proxy), 'COMMIT;')
  t.equal(proxy.fired, 1, 'once by default')
})

t.test('cut-on-match without forward stops before the match, every time when not once', async (t) => {
  const { echo, proxy } = await setup(t)
  proxy.set({ kind: 'cut-on-match', match: 'STOP', forward: false, once: false })
  const first = dial(proxy)
  first.socket.write('abcSTOPdef')
  await first.closed
  await until(() => echo.accepted[0]?.isClosed() === true, 'the first target side closed')
  t.equal(echo.accepted[0]!.text(), 'abc')
  t.equal(first.text(), '')
  const second = dial(proxy)
  second.socket.write('STOP')
  await second.closed
  await until(() => echo.accepted[1]?.isClosed() === true, 'the second target side closed')
  t.equal(echo.accepted[1]!.text(), '')
  t.equal(proxy.fired, 2)
})

t.test('cutAll drops every open connection on both sides', async (t) => {
  const { echo, proxy } = await setup(t)
  const clients = [dial(proxy), dial(proxy)]
  for (const client of clients) await roundTrip(client, 'hi')
  t.equal(proxy.open, 2)
  proxy.cutAll()
  await Promise.all([...clients, ...echo.accepted].map((peer) => peer.closed))
  await until(() => proxy.open === 0, 'no open connection')
  await roundTrip(dial(proxy), 'again')
  t.pass('new connections go through')
})

t.test('a target that refuses connections closes the client', async (t) => {
  const probe = createServer()
  probe.listen(0, HOST)
  await once(probe, 'listening')
  const port = (probe.address() as AddressInfo).port
  await new Promise((resolve) => probe.close(resolve))
  const proxy = await startFaultProxy({ host: HOST, port }, t)
  const client = dial(proxy)
  await client.closed
  t.equal(client.text(), '')
})

t.test('close stops listening and destroys open connections', async (t) => {
  const echo = await startEcho(t)
  const proxy = await startFaultProxy({ host: HOST, port: echo.port })
  const client = dial(proxy)
  await roundTrip(client, 'hi')
  await proxy.close()
  await proxy.close()
  await Promise.all([client.closed, echo.accepted[0]!.closed])
  const late = dial(proxy)
  await late.closed
  t.equal(late.error?.code, 'ECONNREFUSED')
})
