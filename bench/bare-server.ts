import Fastify from 'fastify'

/**
 * The ceiling for read scenarios: a bare Fastify server answering the very same bytes
 * from memory, with nothing but routing and HTTP in the way.
 */
const answers = new Map<string, string>()
const app = Fastify({ logger: false })
app.get('/*', (request, reply) => {
  const body = answers.get(request.url)
  if (body === undefined) return reply.code(404).send()
  return reply.type('application/json; charset=utf-8').send(body)
})
process.on('message', (message: { answers: Array<[string, string]> }) => {
  for (const [url, body] of message.answers) answers.set(url, body)
  process.send?.({ loaded: answers.size })
})
await app.listen({ host: '127.0.0.1', port: 0 })
const address = app.server.address()
process.send?.({ port: typeof address === 'object' && address ? address.port : 0 })
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)))
