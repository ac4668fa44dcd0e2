import { sql } from 'drizzle-orm'
import pLimit from 'p-limit'
import { books, posts, reviews, users } from '../src/db/schema.js'
import type { Db } from '../src/db/client.js'
import type { NormalizedImage } from '../src/media/image.js'
import { newMediaName, type MediaStore } from '../src/media/store.js'
import { storedInfo } from '../src/media/lifecycle.js'
import { hashPassword } from '../src/modules/auth/passwords.js'

export const PASSWORD = 'bench password 1'

async function inParallel<T>(items: T[], limit: number, task: (item: T) => Promise<unknown>) {
  const run = pLimit(limit)
  await Promise.all(items.map((item) => run(() => task(item))))
}

async function insertInBatches<T>(rows: T[], insert: (batch: T[]) => Promise<unknown>) {
  for (let i = 0; i < rows.length; i += 200) await insert(rows.slice(i, i + 200))
}

const paragraph = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. '

/** 1000 published posts with images, 1000 books with covers, and one book with 10 reviews. */
export async function seed(db: Db, store: MediaStore, image: NormalizedImage) {
  const passwordHash = await hashPassword(PASSWORD)
  const [admin] = await db.insert(users).values({ username: 'bench-admin', email: 'admin@bench.local', passwordHash, isAdmin: true }).returning()
  const [reader] = await db.insert(users).values({ username: 'bench-user', email: 'user@bench.local', passwordHash }).returning()
  const postImages = Array.from({ length: 1000 }, () => newMediaName('post_images', image.extension))
  const covers = Array.from({ length: 1001 }, () => newMediaName('covers', image.extension))
  await inParallel([...postImages, ...covers], 16, (name) => store.put(name, image.data, image.contentType))

  const now = Date.now()
  await insertInBatches(
    postImages.map((name, i) => ({
      authorId: admin!.id,
      title: `Post number ${i + 1}`,
      slug: `post-number-${i + 1}`,
      content: paragraph.repeat(8),
      excerpt: paragraph,
      isPublished: true,
      image: name,
      imageInfo: storedInfo(name, image),
      createdAt: new Date(now - i * 60_000)
    })),
    (batch) => db.insert(posts).values(batch)
  )
  await insertInBatches(
    covers.slice(0, 1000).map((name, i) => ({
      title: `Book number ${i + 1}`,
      author: `Author ${i % 37}`,
      price: `${(i % 90) + 9}.99`,
      cover: name,
      coverInfo: storedInfo(name, image),
      creatorId: reader!.id,
      createdAt: new Date(now - i * 60_000)
    })),
    (batch) => db.insert(books).values(batch)
  )
  const [reviewed] = await db.insert(books).values({ title: 'The reviewed book', author: 'Someone', price: '42.00', cover: covers[1000]!, coverInfo: storedInfo(covers[1000]!, image), creatorId: reader!.id }).returning()
  await db.insert(reviews).values(Array.from({ length: 10 }, (_, i) => ({ bookId: reviewed!.id, authorId: admin!.id, review: `Review number ${i + 1}: a fine read.`, createdAt: new Date(now - i * 1000) })))
  // What autovacuum does on a live database: statistics for the planner, a visibility map
  // for index-only counts. Without it every list would sort the whole table.
  await db.execute(sql`VACUUM ANALYZE`)
  const [post] = await db.select({ id: posts.id }).from(posts).limit(1)
  return { postId: post!.id, bookId: reviewed!.id, username: reader!.username }
}
