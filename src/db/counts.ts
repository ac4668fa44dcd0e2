import { eq, sql, type SQL } from 'drizzle-orm'
import type { PgTable } from 'drizzle-orm/pg-core'
import type { Db } from './client.js'
import { books, listCounts, posts } from './schema.js'

export type KeptCount = 'posts' | 'published_posts' | 'books'

/** A list's total, kept by the triggers (migration 0005): exact, in constant time. */
export const keptCount = (name: KeptCount) => sql<number>`(select ${listCounts.count} from ${listCounts} where ${listCounts.name} = ${name})`

/** A filtered list's total: the matching rows, counted. */
export const countedRows = (table: PgTable, where: SQL | undefined) => sql<number>`(select count(*)::int from ${table}${where ? sql` where ${where}` : sql``})`

/**
 * Sets every kept count from the tables themselves: the repair after anything that
 * bypassed the triggers (`session_replication_role = replica`, disabled triggers, a
 * data-only restore). Writers wait for the recount, so none slips between count and set.
 */
export async function recountLists(db: Db): Promise<Record<KeptCount, number>> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`lock table ${posts}, ${books} in share row exclusive mode`)
    const recount = async (name: KeptCount, count: SQL) => {
      const [row] = await tx.update(listCounts).set({ count }).where(eq(listCounts.name, name)).returning({ count: listCounts.count })
      return row!.count
    }
    return {
      posts: await recount('posts', countedRows(posts, undefined)),
      published_posts: await recount('published_posts', countedRows(posts, sql`${posts.isPublished}`)),
      books: await recount('books', countedRows(books, undefined))
    }
  })
}
