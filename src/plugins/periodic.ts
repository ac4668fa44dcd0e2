import type { FastifyInstance } from 'fastify'

/**
 * Runs `task` every `intervalMs` while the server is ready, never two at once; closing
 * the server waits for a run in progress. A failure is logged with the message `failure` and retried
 * at the next tick.
 */
export function runPeriodically(app: FastifyInstance, intervalMs: number, failure: string, task: () => Promise<unknown>) {
  let timer: NodeJS.Timeout | undefined
  let running: Promise<unknown> | undefined
  const tick = () => {
    running ??= task()
      .catch((error: unknown) => app.log.warn({ err: error }, failure))
      .finally(() => (running = undefined))
  }
  app.addHook('onReady', async () => {
    timer = setInterval(tick, intervalMs).unref()
  })
  app.addHook('onClose', async () => {
    clearInterval(timer)
    await running
  })
}
