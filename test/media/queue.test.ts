import t from 'tap'
import { createImageQueue } from '../../src/media/image.js'

t.test('at most `concurrency` tasks run, at most `queueMax` wait, the rest are refused', async (t) => {
  const queue = createImageQueue(2, 1)
  let running = 0
  let peak = 0
  const releases: Array<() => void> = []
  const task = () =>
    new Promise<string>((resolve) => {
      running += 1
      peak = Math.max(peak, running)
      releases.push(() => {
        running -= 1
        resolve('done')
      })
    })
  const accepted = [queue.run(task), queue.run(task), queue.run(task)]
  await t.rejects(queue.run(task), { statusCode: 503, code: 'SERVER_BUSY', headers: { 'Retry-After': '2' } })
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(running, 2, 'two run, one waits')
  while (releases.length > 0) {
    releases.shift()!()
    await new Promise((resolve) => setImmediate(resolve))
  }
  t.same(await Promise.all(accepted), ['done', 'done', 'done'])
  t.equal(peak, 2)
  t.equal(await queue.run(async () => 'free again'), 'free again')
})
