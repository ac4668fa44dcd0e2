import { and, asc, eq, gt, isNotNull, isNull, or, sql, type SQL } from 'drizzle-orm'
import type { PgColumn } from 'drizzle-orm/pg-core'
import type { Db } from '../db/client.js'
import { books, posts, type StoredImageInfo } from '../db/schema.js'
import { addVariants, type MediaContext } from './lifecycle.js'

/**
 * An image that needs its info: it has none (stored before the service kept it), or it has
 * no variants though it is wider than the smallest variant (stored while they were off).
 */
function needsInfo(info: PgColumn, smallestWidth: number | undefined): SQL | undefined {
  const withoutVariants = smallestWidth === undefined ? undefined : sql`(${info}->'variants' = '[]'::jsonb and (${info}->>'width')::int > ${smallestWidth})`
  return or(isNull(info), withoutVariants)
}

/** A column of images and the info beside it, as the backfill walks it. */
interface ImageColumn<Id> {
  label: string
  /** Rows after `after` (in id order) whose image needs its info. */
  pending(db: Db, after: Id | undefined, limit: number, smallestWidth: number | undefined): Promise<Array<{ id: Id; name: string | null; hasInfo: boolean }>>
  /** Records the info if the row still names `name` and still needs it; false when it changed. */
  record(tx: Db, id: Id, name: string, info: StoredImageInfo, smallestWidth: number | undefined): Promise<boolean>
}

const postImages: ImageColumn<number> = {
  label: 'posts.image',
  pending: (db, after, limit, smallest) =>
    db.select({ id: posts.id, name: posts.image, hasInfo: sql<boolean>`${posts.imageInfo} is not null` }).from(posts)
      .where(and(isNotNull(posts.image), needsInfo(posts.imageInfo, smallest), after === undefined ? undefined : gt(posts.id, after)))
      .orderBy(asc(posts.id)).limit(limit),
  record: async (tx, id, name, info, smallest) => {
    const still = and(eq(posts.id, id), eq(posts.image, name), needsInfo(posts.imageInfo, smallest))
    return (await tx.update(posts).set({ imageInfo: info }).where(still).returning({ id: posts.id })).length === 1
  }
}

const bookCovers: ImageColumn<string> = {
  label: 'books.cover',
  pending: (db, after, limit, smallest) =>
    db.select({ id: books.id, name: books.cover, hasInfo: sql<boolean>`${books.coverInfo} is not null` }).from(books)
      .where(and(isNotNull(books.cover), needsInfo(books.coverInfo, smallest), after === undefined ? undefined : gt(books.id, after)))
      .orderBy(asc(books.id)).limit(limit),
  record: async (tx, id, name, info, smallest) => {
    const still = and(eq(books.id, id), eq(books.cover, name), needsInfo(books.coverInfo, smallest))
    return (await tx.update(books).set({ coverInfo: info }).where(still).returning({ id: books.id })).length === 1
  }
}

export interface BackfillResult {
  /** Rows given their info (and variants). */
  filled: number
  /** Rows whose image changed while they were worked on: they need nothing. */
  skipped: number
  /** Images that get no variants however often they are made (animated ones): left as they were. */
  unchanged: number
  /** Images that could not be read or processed: left as they were, for a later run. */
  failed: Array<{ name: string; error: string }>
}

export interface BackfillOptions {
  /** The smallest configured variant width (none when variants are off). */
  smallestWidth: number | undefined
  batchSize?: number
}

/**
 * Gives every row whose image needs its info (see `needsInfo`) its info and variants, made
 * from the stored original read back with `read`; the original itself is kept. Bounded
 * batches in id order; a row is completed only if it still names the same image and still
 * needs it, so it is safe beside running servers, resumable and safe to run twice. Each
 * image goes through `context.normalize`, the bounded processing queue.
 */
export async function backfillImageInfo(context: MediaContext, read: (name: string) => Promise<Buffer>, options: BackfillOptions): Promise<BackfillResult> {
  const result: BackfillResult = { filled: 0, skipped: 0, unchanged: 0, failed: [] }
  await backfillColumn(context, read, postImages, options, result)
  await backfillColumn(context, read, bookCovers, options, result)
  return result
}

async function backfillColumn<Id>(context: MediaContext, read: (name: string) => Promise<Buffer>, column: ImageColumn<Id>, options: BackfillOptions, result: BackfillResult) {
  const { smallestWidth, batchSize = 20 } = options
  let after: Id | undefined
  for (;;) {
    const rows = await column.pending(context.db, after, batchSize, smallestWidth)
    if (rows.length === 0) return
    for (const { id, name, hasInfo } of rows) {
      after = id
      if (name === null) continue
      try {
        const bytes = await read(name)
        const image = await context.normalize(bytes)
        if (image.variants.length === 0 && hasInfo) {
          result.unchanged += 1
          continue
        }
        const recorded = await addVariants(context, { name, bytes: bytes.length }, image, (tx, info) => column.record(tx, id, name, info, smallestWidth))
        if (recorded) result.filled += 1
        else result.skipped += 1
      } catch (error) {
        context.log.warn({ err: error, name, column: column.label }, 'could not backfill the info of an image; a later run tries again')
        result.failed.push({ name, error: error instanceof Error ? error.message : String(error) })
      }
    }
  }
}
