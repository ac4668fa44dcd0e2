import { once } from 'node:events'
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net'

/**
 * A TCP proxy that tests put between the service and PostgreSQL or S3 to break the network
 * on purpose, in ways a real outage does: refused connections, peers that never answer,
 * replies that never come, connections cut mid-message or right after a COMMIT was sent.
 */

export type Fault =
  /** Forward both ways (the default). */
  | { kind: 'pass' }
  /** New connections are reset at once, before any byte; existing ones are left alone. */
  | { kind: 'refuse' }
  /** On every connection, existing and new: read both ways, forward nothing, never close. */
  | { kind: 'blackhole' }
  /** Forward to the target, discard every byte (and the close) coming back; connections stay open. */
  | { kind: 'drop-replies' }
  /**
   * For connections opened while this is the fault: once `bytes` bytes have passed in
   * `direction`, forward exactly that many, then close both sides.
   */
  | { kind: 'cut-after-bytes'; direction: 'to-target' | 'to-client'; bytes: number }
  /**
   * On every connection, when bytes going to the target contain `match`: with `forward`, the
   * target gets that whole chunk and then an end, the client is reset (it never sees a
   * reply); without, the target gets only the bytes before the match. `then` is the fault
   * that follows the cut (a network that stays down, say); else `once` (default true)
   * returns the proxy to 'pass' after the first cut.
   */
  | { kind: 'cut-on-match'; match: string; forward: boolean; once?: boolean; then?: Fault }

export interface FaultProxy {
  readonly port: number
  readonly host: string
  /** Sets the fault for what follows (see each kind for existing connections). */
  set(fault: Fault): void
  /** How many times a cut-on-match or cut-after-bytes fault fired since start. */
  readonly fired: number
  /** Destroys every open connection now (both sides), as a network drop would. */
  cutAll(): void
  /** Number of currently open client connections. */
  readonly open: number
  /** Stops listening and destroys all connections. */
  close(): Promise<void>
}

interface TapLike {
  teardown(fn: () => unknown): void
}

type Direction = 'to-target' | 'to-client'
type ByteBudgetFault = Extract<Fault, { kind: 'cut-after-bytes' }>
type MatchFault = Extract<Fault, { kind: 'cut-on-match' }>
interface Budget {
  readonly fault: ByteBudgetFault
  left: number
}

/** One end of a proxied connection, with what has been seen of it. */
interface Side {
  readonly socket: Socket
  /** The peer sent its end (FIN). */
  eof: boolean
  /** The socket has closed, cleanly or not. */
  gone: boolean
}

interface Link {
  readonly client: Side
  readonly target: Side
  /** A fault has cut this link: nothing is relayed any more, in either direction. */
  cut: boolean
  /** The cut-after-bytes fault this link was opened under, with the bytes it has left. */
  readonly budget: Budget | undefined
  /** The last bytes sent to the target, so a match split across two chunks is still seen. */
  tail: Buffer
}

const HOST = '127.0.0.1'
const EMPTY = Buffer.alloc(0)
// A side that must still receive its last bytes is ended, not destroyed; real peers close on
// that end, and this is only the backstop for one that never does.
const BACKSTOP_MS = 1000

function ignore(): void {}

function side(socket: Socket): Side {
  // No socket error may ever become an uncaught exception: faults make them routine.
  socket.on('error', ignore)
  // Small protocol messages (PostgreSQL, HTTP heads) must not wait for Nagle.
  socket.setNoDelay(true)
  return { socket, eof: false, gone: false }
}

/** Drops a socket with a TCP reset, as a crashed peer or a broken path would. */
function reset(socket: Socket): void {
  if (socket.destroyed) return
  // A reset needs a connected handle; one still connecting can only be destroyed, and on
  // Node 20 resetting a socket that was already ended spins the event loop.
  if (socket.connecting || socket.writableEnded || socket.readableEnded) socket.destroy()
  else socket.resetAndDestroy()
}

/** Sends the last bytes a side gets and ends it, so they are not lost as a reset would lose them. */
function endWith(socket: Socket, bytes: Buffer): void {
  if (socket.destroyed || socket.writableEnded) return
  socket.end(bytes)
  // Keep reading (and discarding) so a peer still sending is not stuck before it sees the end.
  socket.resume()
  setTimeout(() => socket.destroy(), BACKSTOP_MS).unref()
}

/** Writes with backpressure, so a slow reader slows the writer instead of filling memory. */
function relay(from: Socket, to: Socket, chunk: Buffer): void {
  if (to.destroyed || to.writableEnded) return
  if (to.write(chunk)) return
  from.pause()
  to.once('drain', () => from.resume())
}

/** Carries one side's close over to the other: a clean end as an end, an abrupt close as a reset. */
function follow(from: Side, to: Side): void {
  if (from.eof) {
    if (!to.socket.destroyed && !to.socket.writableEnded) to.socket.end()
  } else if (from.gone) {
    reset(to.socket)
  }
}

class TcpFaultProxy implements FaultProxy {
  readonly host = HOST
  readonly port: number
  readonly #server: Server
  readonly #target: { host: string; port: number }
  readonly #links = new Set<Link>()
  #fault: Fault = { kind: 'pass' }
  #fired = 0
  #closing: Promise<void> | undefined

  constructor(server: Server, target: { host: string; port: number }) {
    this.#server = server
    this.#target = target
    this.port = (server.address() as AddressInfo).port
    server.on('connection', (socket: Socket) => this.#accept(socket))
  }

  get fired(): number {
    return this.#fired
  }

  get open(): number {
    let open = 0
    for (const link of this.#links) if (!link.client.gone) open++
    return open
  }

  set(fault: Fault): void {
    // A copy, so that each set() is a fault of its own for links opened under it.
    this.#fault = { ...fault }
    for (const link of this.#links) {
      // A close held back by the previous fault may now be due.
      this.#settle(link)
      this.#unblock(link)
    }
  }

  cutAll(): void {
    for (const link of this.#links) {
      link.cut = true
      reset(link.client.socket)
      reset(link.target.socket)
    }
  }

  close(): Promise<void> {
    this.#closing ??= new Promise((resolve) => {
      this.#server.close(() => resolve())
      for (const link of this.#links) {
        link.client.socket.destroy()
        link.target.socket.destroy()
      }
    })
    return this.#closing
  }

  #accept(socket: Socket): void {
    const client = side(socket)
    if (this.#fault.kind === 'refuse') return reset(socket)
    // Bytes the client sends before this connects are queued by the socket, not lost.
    const target = side(connect({ ...this.#target, allowHalfOpen: true }))
    const link: Link = { client, target, cut: false, budget: this.#budgetForNewLink(), tail: EMPTY }
    this.#links.add(link)
    this.#watch(link, client, (chunk) => this.#toTarget(link, chunk))
    this.#watch(link, target, (chunk) => this.#toClient(link, chunk))
  }

  #budgetForNewLink(): Budget | undefined {
    const fault = this.#fault
    return fault.kind === 'cut-after-bytes' ? { fault, left: fault.bytes } : undefined
  }

  #watch(link: Link, watched: Side, onData: (chunk: Buffer) => void): void {
    watched.socket.on('data', onData)
    watched.socket.on('end', () => {
      watched.eof = true
      this.#settle(link)
    })
    watched.socket.on('close', () => {
      watched.gone = true
      this.#settle(link)
      if (link.client.gone && link.target.gone) this.#links.delete(link)
    })
  }

  #toTarget(link: Link, chunk: Buffer): void {
    const fault = this.#fault
    if (link.cut || fault.kind === 'blackhole') return
    const budget = this.#budget(link, 'to-target')
    if (budget) return this.#spend(link, budget, chunk, link.target, link.client)
    if (fault.kind !== 'cut-on-match') link.tail = EMPTY
    else if (this.#cutOnMatch(link, chunk, fault)) return
    relay(link.client.socket, link.target.socket, chunk)
  }

  #toClient(link: Link, chunk: Buffer): void {
    if (link.cut || !this.#passes('to-client')) return
    const budget = this.#budget(link, 'to-client')
    if (budget) return this.#spend(link, budget, chunk, link.client, link.target)
    relay(link.target.socket, link.client.socket, chunk)
  }

  /** Whether bytes and closes currently go through in this direction. */
  #passes(direction: Direction): boolean {
    const kind = this.#fault.kind
    if (kind === 'blackhole') return false
    return direction === 'to-target' || kind !== 'drop-replies'
  }

  /** The byte budget counts only while the fault it was opened under is still the fault. */
  #budget(link: Link, direction: Direction): Budget | undefined {
    const budget = link.budget
    return budget && budget.fault === this.#fault && budget.fault.direction === direction ? budget : undefined
  }

  #spend(link: Link, budget: Budget, chunk: Buffer, to: Side, from: Side): void {
    if (chunk.length < budget.left) {
      budget.left -= chunk.length
      return relay(from.socket, to.socket, chunk)
    }
    this.#cut(link, to, chunk.subarray(0, Math.max(0, budget.left)), from)
  }

  /** Looks for the match in this chunk plus the tail of the last one; cuts and says so if found. */
  #cutOnMatch(link: Link, chunk: Buffer, fault: MatchFault): boolean {
    const needle = Buffer.from(fault.match)
    const seen = link.tail.length ? Buffer.concat([link.tail, chunk]) : chunk
    const at = seen.indexOf(needle)
    if (at < 0) {
      // A copy, so the tail does not keep the whole chunk alive.
      link.tail = Buffer.from(seen.subarray(Math.max(0, seen.length - needle.length + 1)))
      return false
    }
    // Bytes of a match that began in the previous chunk have already gone to the target.
    const before = chunk.subarray(0, Math.max(0, at - link.tail.length))
    this.#cut(link, link.target, fault.forward ? chunk : before, link.client)
    if (fault.then) this.set(fault.then)
    else if (fault.once !== false) this.set({ kind: 'pass' })
    return true
  }

  /** Ends the link: `to` still gets `bytes` and an end, `other` is reset at once. */
  #cut(link: Link, to: Side, bytes: Buffer, other: Side): void {
    link.cut = true
    this.#fired++
    reset(other.socket)
    endWith(to.socket, bytes)
  }

  /**
   * A side paused for backpressure is read again once its bytes are discarded, so that a
   * blackhole or drop-replies reads everything, as a peer that never answers would.
   */
  #unblock(link: Link): void {
    if (!this.#passes('to-target')) link.client.socket.resume()
    if (!this.#passes('to-client')) link.target.socket.resume()
  }

  #settle(link: Link): void {
    if (link.cut) return
    if (this.#passes('to-target')) follow(link.client, link.target)
    if (this.#passes('to-client')) follow(link.target, link.client)
  }
}

/** Starts a fault proxy on 127.0.0.1, on a free port, in front of `target`. */
export async function startFaultProxy(target: { host: string; port: number }, t?: TapLike): Promise<FaultProxy> {
  // Half-open connections are let through as they are: a client may end its side and still
  // wait for the reply.
  const server = createServer({ allowHalfOpen: true })
  server.listen(0, HOST)
  await once(server, 'listening')
  // An accept failure (such as EMFILE) must not crash the test run.
  server.on('error', ignore)
  const proxy = new TcpFaultProxy(server, target)
  t?.teardown(() => proxy.close())
  return proxy
}
