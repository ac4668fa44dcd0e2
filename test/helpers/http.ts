import type { FastifyInstance } from 'fastify'
import type { TestUser } from './app.js'
import { multipart, type Part } from './multipart.js'

type Write = 'POST' | 'PUT' | 'PATCH'

/** Requests as the API's callers make them: JSON or multipart forms, as someone or anonymously. */
export function client(app: FastifyInstance) {
  return {
    json: (method: Write, url: string, payload: object, who?: TestUser) => app.inject({ method, url, payload, headers: who?.auth ?? {} }),
    form: (method: Write, url: string, parts: Part[], who?: TestUser) => {
      const body = multipart(parts)
      return app.inject({ method, url, payload: body.payload, headers: { ...body.headers, ...(who?.auth ?? {}) } })
    },
    get: (url: string, who?: TestUser) => app.inject({ url, headers: who?.auth ?? {} }),
    delete: (url: string, who?: TestUser) => app.inject({ method: 'DELETE', url, headers: who?.auth ?? {} })
  }
}

/** Starts `app` on a free loopback port: requests then travel real HTTP, as its callers' do. */
export async function listenLocally(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  return `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
}
