import { eq, lte, sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { mediaDeletions, type MediaDeletionRow } from '../db/schema.js'
import type { NormalizedImage } from './image.js'
import { newMediaName, storageUnavailable, type MediaStore } from './store.js'

export interface MediaLog {
  warn(details: object, message: string): void
}

export interface MediaContext {
  db: Db
  store: MediaStore
  log: MediaLog
}

export interface Upload {
  image: NormalizedImage
  /** The key folder: `post_images`, `covers`. */
  folder: string
}

export interface WriteOutcome<T> {
  result: T
  /** Names the write stopped referencing (a replaced or removed image): deleted after commit. */
  released?: Array<string | null | undefined>
}

// A claim outlives any request: if it is still there after this, the row was never written.
const CLAIM_GRACE_MS = 15 * 60_000
// Released objects are deleted right after commit; the row is the safety net, due a bit later.
const RELEASE_GRACE_MS = 60_000
const MAX_BACKOFF_MINUTES = 24 * 60

/**
 * Nothing lost, nothing orphaned: the new object is stored before the row that names it
 * is written, in a transaction with `write`. If the write fails for any reason the object
 * is deleted again; the objects the write released are deleted only after the commit.
 */
export async function storeThenWrite<T>(
  context: MediaContext,
  upload: Upload | undefined,
  write: (tx: Db, name: string | undefined) => Promise<WriteOutcome<T>>
): Promise<T> {
  const stored = upload && (await storeWithClaim(context, upload))
  let committed: { result: T; releases: MediaDeletionRow[] }
  try {
    committed = await context.db.transaction(async (tx) => {
      const outcome = await write(tx, stored?.name)
      if (stored) await tx.delete(mediaDeletions).where(eq(mediaDeletions.id, stored.claimId))
      return { result: outcome.result, releases: await recordReleases(tx, outcome.released ?? []) }
    })
  } catch (error) {
    if (stored) await attemptDeletion(context, { id: stored.claimId, name: stored.name, attempts: 0 })
    throw error
  }
  await deleteAfterCommit(context, committed.releases)
  return committed.result
}

/** Records the intent to delete first, so a crash between upload and write leaves a due deletion. */
async function storeWithClaim(context: MediaContext, upload: Upload) {
  const name = newMediaName(upload.folder, upload.image.extension)
  const [claim] = await context.db
    .insert(mediaDeletions)
    .values({ name, dueAt: new Date(Date.now() + CLAIM_GRACE_MS) })
    .returning({ id: mediaDeletions.id })
  try {
    await context.store.put(name, upload.image.data, upload.image.contentType)
  } catch (error) {
    context.log.warn({ err: error, name }, 'media store refused an upload')
    await context.db.delete(mediaDeletions).where(eq(mediaDeletions.id, claim!.id)).catch(() => {})
    throw storageUnavailable()
  }
  return { name, claimId: claim!.id }
}

async function recordReleases(tx: Db, names: Array<string | null | undefined>): Promise<MediaDeletionRow[]> {
  const released = names.filter((name): name is string => typeof name === 'string' && name !== '')
  if (released.length === 0) return []
  return tx
    .insert(mediaDeletions)
    .values(released.map((name) => ({ name, dueAt: new Date(Date.now() + RELEASE_GRACE_MS) })))
    .returning()
}

/** Deletes released objects now; a failure stays recorded and is retried later, never thrown. */
async function deleteAfterCommit(context: MediaContext, rows: MediaDeletionRow[]): Promise<void> {
  for (const row of rows) await attemptDeletion(context, row)
}

type Deletion = Pick<MediaDeletionRow, 'id' | 'name' | 'attempts'>

async function attemptDeletion(context: MediaContext, row: Deletion, db: Db = context.db): Promise<boolean> {
  try {
    await context.store.delete(row.name)
  } catch (error) {
    context.log.warn({ err: error, name: row.name, attempts: row.attempts + 1 }, 'media deletion failed; it will be retried')
    await db
      .update(mediaDeletions)
      .set({ attempts: row.attempts + 1, lastError: String(error).slice(0, 500), dueAt: nextAttempt(row.attempts + 1) })
      .where(eq(mediaDeletions.id, row.id))
      .catch(() => {}) // The row stays due either way.
    return false
  }
  await db.delete(mediaDeletions).where(eq(mediaDeletions.id, row.id)).catch(() => {})
  return true
}

function nextAttempt(attempts: number): Date {
  const minutes = Math.min(2 ** attempts, MAX_BACKOFF_MINUTES)
  return new Date(Date.now() + minutes * 60_000)
}

/**
 * Works through the deletions that are due. Safe in every instance at once: each row is
 * locked by the one that takes it (`FOR UPDATE SKIP LOCKED`), the others skip it.
 */
export async function retryFailedDeletions(context: MediaContext, batchSize = 50): Promise<{ deleted: number; failed: number }> {
  return context.db.transaction(async (tx) => {
    const due = await tx
      .select()
      .from(mediaDeletions)
      .where(lte(mediaDeletions.dueAt, sql`now()`))
      .orderBy(mediaDeletions.dueAt)
      .limit(batchSize)
      .for('update', { skipLocked: true })
    let deleted = 0
    for (const row of due) if (await attemptDeletion(context, row, tx)) deleted += 1
    return { deleted, failed: due.length - deleted }
  })
}
