import { join } from 'node:path'
import t, { type Test } from 'tap'
import { eq, sql } from 'drizzle-orm'
import type { FastifyInstance } from 'fastify'
import { mediaDeletions, users } from '../../src/db/schema.js'
import { normalizeImage } from '../../src/media/image.js'
import { retryFailedDeletions, writeWithMedia } from '../../src/media/lifecycle.js'
import { buildTestApp, buildTestAppWithConfig } from '../helpers/app.js'
import * as images from '../helpers/images.js'
import { startS3Server, type TestS3Server } from '../helpers/s3.js'
import { localNames } from '../helpers/stores.js'

/** The names in the store, as the store itself lists them. */
type Lister = () => Promise<string[]>

function localLister(root: string): Lister {
  return async () => localNames(join(root, 'media'))
}

async function upload() {
  return { image: await normalizeImage(await images.jpeg(), { maxBytes: 1 << 20, maxPixels: 1 << 20, maxSide: 4096, processTimeoutMs: 5000 }), folder: 'covers' }
}

// A stand-in resource: the user row's email holds an image name, enough to exercise the rules.
async function setImage(tx: Parameters<Parameters<typeof writeWithMedia>[2]>[0], id: number, name: string | undefined) {
  const [old] = await tx.select({ email: users.email }).from(users).where(eq(users.id, id))
  await tx.update(users).set({ email: name ?? '' }).where(eq(users.id, id))
  return { name: old?.email || null, info: null }
}

async function suite(t: Test, app: FastifyInstance, list: Lister, s3?: TestS3Server) {
  const context = app.media.context(app.log)
  const [user] = await app.db.insert(users).values({ username: `owner${Date.now()}`, email: '', passwordHash: 'x' }).returning()
  const id = user!.id
  const pending = () => app.db.select().from(mediaDeletions)

  await t.test('store, then write: the object exists and no claim is left', async (t) => {
    const name = await writeWithMedia(context, await upload(), async (tx, name) => {
      await setImage(tx, id, name)
      return { result: name! }
    })
    t.same(await list(), [name])
    t.same(await pending(), [])
  })

  await t.test('a failing write removes the new object again', async (t) => {
    const before = await list()
    await t.rejects(
      writeWithMedia(context, await upload(), async (tx) => {
        await tx.execute(sql`select * from no_such_table`)
        return { result: null }
      })
    )
    t.same(await list(), before, 'the object stored for the failed write is gone')
    t.same(await pending(), [])
  })

  await t.test('replacing deletes the old object only after the commit', async (t) => {
    const [old] = await list()
    let seenDuringWrite: string[] = []
    const name = await writeWithMedia(context, await upload(), async (tx, name) => {
      seenDuringWrite = await list()
      return { result: name!, released: [await setImage(tx, id, name)] }
    })
    t.ok(seenDuringWrite.includes(old!), 'the old object was still there while the transaction ran')
    t.same(await list(), [name])
    t.same(await pending(), [])
  })

  await t.test('a rolled-back replacement keeps the old object', async (t) => {
    const before = await list()
    await t.rejects(
      writeWithMedia(context, await upload(), async (tx, name) => {
        const released = await setImage(tx, id, name)
        await tx.execute(sql`select 1/0`)
        return { result: null, released: [released] }
      })
    )
    t.same(await list(), before)
  })

  await t.test('one object of an upload refused: those that landed go at once, the claim waits for a late put', async (t) => {
    const before = await list()
    const limits = { maxBytes: 1 << 20, maxPixels: 1 << 20, maxSide: 4096, processTimeoutMs: 5000 }
    const object = { image: await normalizeImage(await images.jpeg(700, 400), limits, { widths: [320], format: 'webp' }), folder: 'covers' }
    const store = { ...context.store, put: (name: string, data: Buffer, type: string) => (name.includes('-320w') ? Promise.reject(new Error('refused')) : context.store.put(name, data, type)) }
    await t.rejects(writeWithMedia({ ...context, store }, object, async () => ({ result: null })), { statusCode: 503, code: 'STORAGE_UNAVAILABLE' })
    t.same(await list(), before, 'the original, which landed, is deleted already')
    const [claim] = await pending()
    t.match(claim, { attempts: 0, lastError: /refused/, variants: [/-320w\.webp$/] })
    t.ok(claim!.dueAt > new Date(), 'the claim is due once a late put would have landed')
    await app.db.update(mediaDeletions).set({ dueAt: new Date(0) })
    t.match(await retryFailedDeletions(context), { deleted: 1, failed: 0 })
    t.same(await pending(), [])
  })

  if (!s3) return

  await t.test('a store that is down: 503 STORAGE_UNAVAILABLE, nothing written, the keys left for the retry loop', async (t) => {
    const before = await list()
    await s3.stop()
    let wrote = false
    await t.rejects(
      writeWithMedia(context, await upload(), async () => {
        wrote = true
        return { result: null }
      }),
      { statusCode: 503, code: 'STORAGE_UNAVAILABLE' }
    )
    t.notOk(wrote, 'the row was never touched')
    // The put may have reached the store with only its answer lost: the claim stays for the
    // retry loop, due once a late put would have landed.
    const [claim] = await pending()
    t.match(claim, { name: /^covers\//, lastError: String, attempts: 0 })
    t.ok(claim!.dueAt > new Date(), 'not due at once')
    await s3.start()
    await app.db.update(mediaDeletions).set({ dueAt: new Date(0) })
    t.match(await retryFailedDeletions(context), { deleted: 1, failed: 0 })
    t.same(await pending(), [])
    t.same(await list(), before)
  })

  await t.test('a deletion that fails is recorded and retried until it succeeds', async (t) => {
    const [old] = await list()
    // The store dies between the commit and the deletion of the replaced object.
    const name = await writeWithMedia(context, await upload(), async (tx, name) => {
      const released = await setImage(tx, id, name)
      await s3.stop()
      return { result: name!, released: [released] }
    })
    const [row] = await pending()
    t.match(row, { name: old, attempts: 1, lastError: String })
    t.ok(row!.dueAt > new Date(), 'retried later, with a backoff')
    await s3.start()
    t.same(await list(), [old, name].sort(), 'the old object is still there for now')

    await app.db.update(mediaDeletions).set({ dueAt: new Date(0) })
    t.same(await retryFailedDeletions(context), { deleted: 1, failed: 0, kept: 0 })
    t.same(await list(), [name])
    t.same(await pending(), [])
  })

  await t.test('an upload whose writer died is cleaned up from its claim', async (t) => {
    const orphan = await upload()
    const name = 'covers/00000000-0000-4000-8000-000000000000.jpg'
    await app.media.store.put(name, orphan.image.data, orphan.image.contentType)
    await app.db.insert(mediaDeletions).values({ name, dueAt: new Date(Date.now() - 1000) })
    t.same(await retryFailedDeletions(context), { deleted: 1, failed: 0, kept: 0 })
    t.notOk((await list()).includes(name))
  })
}

t.test('lifecycle on the local store', async (t) => {
  const { app, config } = await buildTestAppWithConfig(t)
  await suite(t, app, localLister(config.media.root))
})

t.test('lifecycle on S3', async (t) => {
  const s3 = await startS3Server(t)
  const app = await buildTestApp(t, s3.env)
  const list = async () => (await s3.keys()).map((key) => key.replace(/^media\//, '')).filter((key) => !key.startsWith('.'))
  await suite(t, app, list, s3)
})

t.test('the background loop retries due deletions in a running server', async (t) => {
  const s3 = await startS3Server(t)
  const app = await buildTestApp(t, { ...s3.env, MEDIA_RETRY_INTERVAL_MS: '50' })
  const orphan = await upload()
  const name = 'covers/00000000-0000-4000-8000-000000000002.jpg'
  await app.media.store.put(name, orphan.image.data, orphan.image.contentType)
  await app.db.insert(mediaDeletions).values({ name, dueAt: new Date(0) })
  for (let i = 0; i < 100 && (await s3.keys()).length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(await s3.keys(), [])
  t.same(await app.db.select().from(mediaDeletions), [])
})

t.test('readiness names the media store when it does not answer', async (t) => {
  const s3 = await startS3Server(t)
  const app = await buildTestApp(t, s3.env)
  t.equal((await app.inject({ url: '/readyz' })).statusCode, 200)
  await s3.stop()
  const down = await app.inject({ url: '/readyz' })
  t.equal(down.statusCode, 503)
  t.equal(down.json().code, 'STORAGE_UNAVAILABLE')
  await s3.start()
  t.equal((await app.inject({ url: '/readyz' })).statusCode, 200, 'ready again when it is back')
})

t.test('a database that is down before the upload: nothing is stored at all', async (t) => {
  const { app, config } = await buildTestAppWithConfig(t)
  const list = localLister(config.media.root)
  await app.database.close()
  let wrote = false
  await t.rejects(
    writeWithMedia(app.media.context(app.log), await upload(), async () => {
      wrote = true
      return { result: null }
    })
  )
  t.notOk(wrote)
  t.same(await list(), [], 'the claim could not be written, so the object was never put')
})
