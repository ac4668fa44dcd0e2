import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { writeRawError } from './errors.js'

export interface SlowBodyOptions {
  /** The slowest average rate a request body may arrive at; 0 disables the check. */
  minBytesPerSecond: number
  /** How long a body may take before its rate is judged. */
  graceMs?: number
  checkEveryMs?: number
}

interface Arrival {
  request: FastifyRequest
  reply: FastifyReply
  startedAt: number
  bytesAtStart: number
}

const hasBody = (request: FastifyRequest) =>
  request.headers['transfer-encoding'] !== undefined || (request.headers['content-length'] !== undefined && request.headers['content-length'] !== '0')

/**
 * A body that drips in holds a connection, a request and (for uploads) a share of the
 * upload budget. Once past the grace period, a body whose average rate is below the
 * floor is answered 408 and its connection closed, which frees what it held.
 */
async function slowBodies(app: FastifyInstance, options: SlowBodyOptions) {
  if (options.minBytesPerSecond <= 0) return
  const graceMs = options.graceMs ?? 5000
  const arriving = new Set<Arrival>()

  app.addHook('onRequest', (request, reply, done) => {
    if (hasBody(request)) {
      const arrival = { request, reply, startedAt: Date.now(), bytesAtStart: request.raw.socket.bytesRead }
      arriving.add(arrival)
      // Listening for 'end' does not start the stream; a closed socket is noticed by the check.
      request.raw.once('end', () => arriving.delete(arrival))
    }
    done()
  })

  const check = () => {
    const now = Date.now()
    for (const arrival of arriving) {
      const { request, reply, startedAt, bytesAtStart } = arrival
      const socket = request.raw.socket
      const elapsedMs = now - startedAt
      if (request.raw.complete || socket.destroyed) arriving.delete(arrival)
      else if (elapsedMs > graceMs && socket.bytesRead - bytesAtStart < (options.minBytesPerSecond * elapsedMs) / 1000) {
        arriving.delete(arrival)
        request.log.info({ bytes: socket.bytesRead - bytesAtStart, elapsedMs }, 'request body too slow: closing the connection')
        if (!reply.raw.headersSent) writeRawError(socket, 'REQUEST_TIMEOUT', `The request body arrived slower than ${options.minBytesPerSecond} bytes per second`)
        else socket.destroy()
      }
    }
  }
  const timer = setInterval(check, options.checkEveryMs ?? 1000).unref()
  app.addHook('onClose', (_app, done) => {
    clearInterval(timer)
    done()
  })
}

export default fp(slowBodies, { name: 'slow-bodies', fastify: '5.x' })
