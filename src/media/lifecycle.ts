import { and, eq, inArray, lte, sql, type SQLWrapper } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { books, mediaDeletions, posts, type MediaDeletionRow, type StoredImageInfo } from '../db/schema.js'
import { CommitOutcomeUnknown, type Transact } from '../db/transaction.js'
import type { FileChange, NormalizedImage } from './image.js'
import { newMediaName, storageUnavailable, variantName, type MediaStore } from './store.js'

export interface MediaLog {
  warn(details: object, message: string): void
}

export interface MediaContext {
  db: Db
  transaction: Transact
  store: MediaStore
  log: MediaLog
  /** Normalizes an upload through the bounded processing queue. */
  normalize(bytes: Buffer): Promise<NormalizedImage>
}

/** A normalized image to store under a new name in `folder` (`post_images`, `covers`). */
export interface NewObject {
  image: NormalizedImage
  folder: string
}

/** A stored image a write stopped naming (none when `name` is null), with what is known of it: its variants. */
export interface Released {
  name: string | null
  info: StoredImageInfo | null
}

export interface WriteOutcome<T> {
  result: T
  /** Images the write stopped referencing (replaced or removed): deleted, variants and all, after commit. */
  released?: Array<Released | undefined>
}

// A claim outlives any request (every database and store call has a deadline): if it is
// still there after this, the row that would name the object was never written.
const CLAIM_GRACE_MS = 15 * 60_000
// Released objects are deleted right after commit; the row is the safety net, due a bit later.
const RELEASE_GRACE_MS = 60_000
const MAX_BACKOFF_MINUTES = 24 * 60

/**
 * Every column that names a stored object: an object is deleted only when none of them
 * does. An outbox row named by a variant (the variants `addVariants` adds to a stored
 * image) is also checked against the variants rows list, so a second run of it that lost
 * the race never deletes what the first one recorded.
 */
const referencesTo = (name: SQLWrapper) => sql<boolean>`(
  exists (select 1 from ${posts} where ${posts.image} = ${name}) or exists (select 1 from ${books} where ${books.cover} = ${name})
  or (${name} ~ '-[0-9]+w[.]' and (
    exists (select 1 from ${posts} where ${posts.imageInfo}->'variants' @> jsonb_build_array(jsonb_build_object('name', ${name}::text)))
    or exists (select 1 from ${books} where ${books.coverInfo}->'variants' @> jsonb_build_array(jsonb_build_object('name', ${name}::text))))))`

type Write<T> = (tx: Db, name: string | undefined, info: StoredImageInfo | undefined) => Promise<WriteOutcome<T>>

/** The last step of a write, inside its transaction: shapes (and records) what the write answers. */
export type Finish<T, A> = (tx: Db, result: T) => Promise<A>

/** Who asks for a write: where its warnings go, and how its answer is made inside the transaction. */
export interface WriteRequest<T, A> {
  log: MediaLog
  answer: Finish<T, A>
}

/**
 * Nothing lost, nothing orphaned: the new object is stored under a claim before the row
 * that names it is written, in a transaction with `write` that also drops the claim. If
 * the transaction surely did not commit, the object is deleted again; if its outcome
 * could not be learned, the claim stays for the retry loop, which deletes the object
 * only if no row names it. The objects the write released are deleted after the commit.
 * `finish` runs last in the same transaction, so the answer it makes commits with the change.
 */
export async function writeWithMedia<T>(context: MediaContext, object: NewObject | undefined, write: Write<T>): Promise<T>
export async function writeWithMedia<T, A>(context: MediaContext, object: NewObject | undefined, write: Write<T>, finish: Finish<T, A>): Promise<A>
export async function writeWithMedia<T, A>(
  context: MediaContext,
  object: NewObject | undefined,
  write: Write<T>,
  finish: Finish<T, A | T> = async (_tx, result) => result
): Promise<A | T> {
  const stored = object && (await storeWithClaim(context, object))
  return commitClaimed(context, stored?.claimId, (tx) => write(tx, stored?.name, stored?.info), finish)
}

/**
 * The transaction of a write whose new objects (if any) are stored under `claimId`: it
 * drops the claim with the write, deletes the objects again if it surely failed, and
 * deletes what the write released after the commit.
 */
async function commitClaimed<T, A>(context: MediaContext, claimId: number | undefined, write: (tx: Db) => Promise<WriteOutcome<T>>, finish: Finish<T, A>): Promise<A> {
  let committed: { answer: A; releases: MediaDeletionRow[] }
  try {
    committed = await context.transaction(async (tx) => {
      if (claimId !== undefined) await releaseClaim(tx, claimId)
      const outcome = await write(tx)
      const releases = await recordReleases(tx, outcome.released ?? [])
      return { answer: await finish(tx, outcome.result), releases }
    })
  } catch (error) {
    if (claimId !== undefined && !(error instanceof CommitOutcomeUnknown)) await deleteUnreferenced(context, claimId).catch(() => 'failed')
    throw error
  }
  for (const row of committed.releases) await deleteUnreferenced(context, row.id).catch(() => 'failed')
  return committed.answer
}

/** Thrown inside `addVariants`' transaction when the row it would complete has changed. */
class RowChanged extends Error {}

/**
 * Stores the variants of an image that a row already names, under a claim of their own,
 * then runs `record` to name them in that row. `record` answers false when the row changed
 * meanwhile (another image, or info already there): the variants are deleted again.
 */
export async function addVariants(
  context: MediaContext,
  stored: { name: string; bytes: number },
  image: NormalizedImage,
  record: (tx: Db, info: StoredImageInfo) => Promise<boolean>
): Promise<boolean> {
  const info = { ...storedInfo(stored.name, image), bytes: stored.bytes }
  const variants = image.variants.map((variant, i) => ({ name: info.variants[i]!.name, data: variant.data, contentType: variant.contentType }))
  const claimId = variants.length > 0 ? await putUnderClaim(context, variants) : undefined
  const recorded = async (tx: Db) => {
    if (!(await record(tx, info))) throw new RowChanged()
    return { result: true }
  }
  return commitClaimed(context, claimId, recorded, async (_tx, result) => result).catch((error: unknown) => {
    if (error instanceof RowChanged) return false
    throw error
  })
}

/**
 * The write of a row with one file field: given the new image's name and info, `null` for
 * both (remove it) or `undefined` (keep it).
 */
export type FileFieldWrite<T> = (tx: Db, file: string | null | undefined, info: StoredImageInfo | null | undefined) => Promise<WriteOutcome<T>>

/**
 * A write that may change one file field: an upload is normalized (through `normalize`,
 * the bounded queue) and stored, the row written, the file it replaced released.
 */
export async function writeFileField<T, A>(context: MediaContext, request: WriteRequest<T, A>, change: FileChange | undefined, write: FileFieldWrite<T>): Promise<A> {
  const object = change?.upload ? { image: await context.normalize(change.upload.bytes), folder: change.folder } : undefined
  const removed = change?.upload === null
  return writeWithMedia({ ...context, log: request.log }, object, (tx, name, info) => (removed ? write(tx, null, null) : write(tx, name, info)), request.answer)
}

/** Stores a new image and its variants under one claim (see `putUnderClaim`). */
async function storeWithClaim(context: MediaContext, object: NewObject) {
  const { image } = object
  const name = newMediaName(object.folder, image.extension)
  const info = storedInfo(name, image)
  const objects = [{ name, data: image.data, contentType: image.contentType }, ...image.variants.map((variant, i) => ({ ...variant, name: info.variants[i]!.name }))]
  return { name, info, claimId: await putUnderClaim(context, objects) }
}

/**
 * Records the intent to delete first, one claim for all the objects (the first names the
 * claim, the others are its variants), so a crash between the puts and the write leaves a
 * due deletion. When a put fails, the objects that surely landed are deleted at once. One
 * that failed may still land (the store took it and its answer was lost, or it finishes
 * after the call gave up), so the claim stays for the retry loop, due once such a late
 * put has had time to finish.
 */
async function putUnderClaim(context: MediaContext, objects: Array<{ name: string; data: Buffer; contentType: string }>): Promise<number> {
  const [first, ...rest] = objects.map((object) => object.name)
  const [claim] = await context.db
    .insert(mediaDeletions)
    .values({ name: first!, variants: rest, dueAt: new Date(Date.now() + CLAIM_GRACE_MS) })
    .returning({ id: mediaDeletions.id })
  const puts = await Promise.allSettled(objects.map((object) => context.store.put(object.name, object.data, object.contentType)))
  const failure = puts.find((put) => put.status === 'rejected')
  if (failure) {
    context.log.warn({ err: failure.reason, name: first }, 'media store refused an upload; its keys are left for the retry loop')
    await context.db
      .update(mediaDeletions)
      .set({ dueAt: new Date(Date.now() + RELEASE_GRACE_MS), lastError: String(failure.reason).slice(0, 500) })
      .where(eq(mediaDeletions.id, claim!.id))
      .catch(() => {}) // Due at the end of the claim's grace either way.
    // No row names these objects (the claim was never released): deleting them needs no check.
    const landed = objects.filter((_object, i) => puts[i]!.status === 'fulfilled')
    await Promise.allSettled(landed.map((object) => context.store.delete(object.name)))
    throw storageUnavailable()
  }
  return claim!.id
}

/** What a row keeps of an image stored under `name`: its size, colour, placeholder, and its variants' names. */
export function storedInfo(name: string, image: NormalizedImage): StoredImageInfo {
  return {
    width: image.width,
    height: image.height,
    contentType: image.contentType,
    bytes: image.data.length,
    color: image.color,
    placeholder: image.placeholder,
    variants: image.variants.map((variant) => ({ name: variantName(name, variant.width, variant.extension), width: variant.width, height: variant.height, contentType: variant.contentType }))
  }
}

/**
 * Drops an upload's claim inside the transaction that writes its row. A claim the
 * retry loop has started on (its attempts count up) is no longer ours: the object may be
 * gone, so the write must not commit a row that names it.
 */
async function releaseClaim(tx: Db, claimId: number) {
  const released = await tx
    .delete(mediaDeletions)
    .where(and(eq(mediaDeletions.id, claimId), eq(mediaDeletions.attempts, 0)))
    .returning({ id: mediaDeletions.id })
  if (released.length === 0) throw storageUnavailable()
}

/** The outbox row of a released image: its name, and its variants' names. */
function releasedObjects(released: Released | undefined): { name: string; variants: string[] } | undefined {
  if (!released?.name) return undefined
  return { name: released.name, variants: released.info?.variants.map((variant) => variant.name) ?? [] }
}

async function recordReleases(tx: Db, images: Array<Released | undefined>): Promise<MediaDeletionRow[]> {
  const released = images.map(releasedObjects).filter((objects) => objects !== undefined)
  if (released.length === 0) return []
  return tx
    .insert(mediaDeletions)
    .values(released.map((objects) => ({ ...objects, dueAt: new Date(Date.now() + RELEASE_GRACE_MS) })))
    .returning()
}

/** What deleting objects needs (the retry loop and the command line have no uploads). */
type DeletionContext = Pick<MediaContext, 'db' | 'store' | 'log'>

type DeletionOutcome = 'deleted' | 'kept' | 'failed' | 'skipped'

/**
 * One statement locks the outbox row (rows another instance holds are skipped), checks
 * that no row names its key, and moves it into the future, so the deletion cannot run
 * twice at once and no transaction stays open across the store call. A key that a row
 * still names is never deleted: its outbox row is dropped instead. The outbox row goes
 * only once the store has confirmed the deletion; until then it stays due for a retry.
 */
async function deleteUnreferenced(context: DeletionContext, id: number, onlyDue = false): Promise<DeletionOutcome> {
  const lockable = context.db
    .select({ id: mediaDeletions.id })
    .from(mediaDeletions)
    .where(and(eq(mediaDeletions.id, id), onlyDue ? lte(mediaDeletions.dueAt, sql`now()`) : undefined))
    .for('update', { skipLocked: true })
  const [row] = await context.db
    .update(mediaDeletions)
    .set({ attempts: sql`${mediaDeletions.attempts} + 1`, dueAt: sql`now() + least(power(2, ${mediaDeletions.attempts} + 1), ${MAX_BACKOFF_MINUTES}) * interval '1 minute'` })
    .where(inArray(mediaDeletions.id, lockable))
    .returning({ id: mediaDeletions.id, name: mediaDeletions.name, variants: mediaDeletions.variants, attempts: mediaDeletions.attempts, referenced: referencesTo(mediaDeletions.name) })
  if (!row) return 'skipped'
  if (row.referenced) {
    context.log.warn({ name: row.name }, 'a row still names this media object: it is kept')
    await context.db.delete(mediaDeletions).where(eq(mediaDeletions.id, row.id))
    return 'kept'
  }
  try {
    // Variants first: the image's own object is the last to go, so a listing never shows
    // variants of an image that is gone while its deletion is still pending.
    for (const variant of row.variants) await context.store.delete(variant)
    await context.store.delete(row.name)
  } catch (error) {
    context.log.warn({ err: error, name: row.name, attempts: row.attempts }, 'media deletion failed; it will be retried')
    await context.db.update(mediaDeletions).set({ lastError: String(error).slice(0, 500) }).where(eq(mediaDeletions.id, row.id)).catch(() => {})
    return 'failed'
  }
  await context.db.delete(mediaDeletions).where(eq(mediaDeletions.id, row.id))
  return 'deleted'
}

export interface RetryResult {
  /** Objects deleted from the store. */
  deleted: number
  /** Deletions that failed and stay scheduled. */
  failed: number
  /** Outbox rows dropped without a deletion, because a row still names the object. */
  kept: number
}

/**
 * Works through the deletions that are due. Safe in every instance at once: each row is
 * taken by one of them (`FOR UPDATE SKIP LOCKED` in `deleteUnreferenced`), the others skip it.
 */
export async function retryFailedDeletions(context: DeletionContext, batchSize = 50): Promise<RetryResult> {
  const due = await context.db
    .select({ id: mediaDeletions.id })
    .from(mediaDeletions)
    .where(lte(mediaDeletions.dueAt, sql`now()`))
    .orderBy(mediaDeletions.dueAt)
    .limit(batchSize)
  const result: RetryResult = { deleted: 0, failed: 0, kept: 0 }
  for (const { id } of due) {
    const outcome = await deleteUnreferenced(context, id, true).catch((): DeletionOutcome => 'failed')
    if (outcome !== 'skipped') result[outcome] += 1
  }
  return result
}
