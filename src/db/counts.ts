import { sql, type SQL } from 'drizzle-orm'
import type { PgTable } from 'drizzle-orm/pg-core'
import { listCounts } from './schema.js'

export type KeptCount = 'posts' | 'published_posts' | 'books'

/** A list's total as the triggers keep it (migration 0005): exact, in constant time. */
export const keptCount = (name: KeptCount) => sql<number>`(select ${listCounts.count} from ${listCounts} where ${listCounts.name} = ${name})`

/** A filtered list's total: the matching rows, counted. */
export const countedRows = (table: PgTable, where: SQL | undefined) => sql<number>`(select count(*)::int from ${table}${where ? sql` where ${where}` : sql``})`
