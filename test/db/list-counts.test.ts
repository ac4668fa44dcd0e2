import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { eq, sql } from 'drizzle-orm'
import { openDatabase } from '../../src/db/client.js'
import { recountLists } from '../../src/db/counts.js'
import { migrateDatabase } from '../../src/db/migrate.js'
import { books, listCounts, posts, users } from '../../src/db/schema.js'
import { createTestDatabase } from '../helpers/database.js'

const dataDir = mkdtempSync(join(tmpdir(), 'list-counts-'))
t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
const server = await createTestDatabase()
if (server) t.teardown(server.drop)
const database = openDatabase({ databaseUrl: server?.url, dataDir, poolMax: 4 })
t.teardown(() => database.close())
await migrateDatabase(database)
const { db } = database

const [author] = await db.insert(users).values({ username: 'counter', email: 'c@example.com', passwordHash: 'x' }).returning()
const authorId = author!.id
let serial = 0
const post = (isPublished: boolean) => ({ authorId, title: `Post ${++serial}`, slug: `post-${serial}`, content: 'text', isPublished })
const book = () => ({ title: `Book ${++serial}`, author: 'Someone', price: '9.99', creatorId: authorId })

/** What the triggers kept, and what counting the tables says. */
async function counts() {
  const kept = Object.fromEntries((await db.select().from(listCounts)).map((row) => [row.name, row.count]))
  const [actual] = await db
    .select({
      posts: sql<number>`(select count(*)::int from ${posts})`,
      published_posts: sql<number>`(select count(*)::int from ${posts} where ${posts.isPublished})`,
      books: sql<number>`(select count(*)::int from ${books})`
    })
    .from(sql`(select 1) as one`)
  return { kept, actual: actual! }
}

async function expectExact(t: Test, expected: { posts: number; published_posts: number; books: number }, what: string) {
  const { kept, actual } = await counts()
  t.same(actual, expected, `${what}: the tables hold what the test expects`)
  t.same(kept, expected, `${what}: the kept counts agree`)
}

t.test('the counts follow inserts, (un)publishing, deletes, rollbacks and truncation', async (t) => {
  await expectExact(t, { posts: 0, published_posts: 0, books: 0 }, 'empty')

  const inserted = await db.insert(posts).values([post(true), post(true), post(false)]).returning({ id: posts.id })
  await db.insert(books).values([book(), book()])
  await expectExact(t, { posts: 3, published_posts: 2, books: 2 }, 'after inserts')

  await db.update(posts).set({ isPublished: true }).where(eq(posts.id, inserted[2]!.id))
  await db.update(posts).set({ title: 'Renamed' }).where(eq(posts.id, inserted[0]!.id))
  await expectExact(t, { posts: 3, published_posts: 3, books: 2 }, 'after publishing one and renaming another')

  await db.update(posts).set({ isPublished: false }).where(eq(posts.id, inserted[0]!.id))
  await db.delete(posts).where(eq(posts.id, inserted[1]!.id))
  await db.delete(books).where(sql`true`)
  await expectExact(t, { posts: 2, published_posts: 1, books: 0 }, 'after unpublishing, and deleting')

  await db
    .transaction(async (tx) => {
      await tx.insert(posts).values(post(true))
      await tx.insert(books).values(book())
      throw new Error('roll back')
    })
    .catch(() => {})
  await expectExact(t, { posts: 2, published_posts: 1, books: 0 }, 'after a rolled-back transaction')

  await db.insert(books).values(book())
  await db.execute(sql`truncate ${posts}`)
  await expectExact(t, { posts: 0, published_posts: 0, books: 1 }, 'after truncating the posts')
})

t.test('concurrent writers never lose an increment', async (t) => {
  const before = (await counts()).kept
  await Promise.all(Array.from({ length: 20 }, (_, i) => db.insert(posts).values(post(i % 2 === 0))))
  const { kept, actual } = await counts()
  t.same(kept, actual)
  t.equal(kept.posts, before.posts! + 20)
  t.equal(kept.published_posts, before.published_posts! + 10)
})

t.test('a recount repairs counts that something bypassing the triggers left wrong', async (t) => {
  await db.update(listCounts).set({ count: 999 })
  const { actual } = await counts()
  t.same(await recountLists(db), actual, 'answers the new counts')
  await expectExact(t, actual, 'after the recount')
})
