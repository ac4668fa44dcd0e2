import slugify from '@sindresorhus/slugify'
import { and, asc, count, desc, eq, getTableColumns, ilike, like, or, type SQL } from 'drizzle-orm'
import type { Db } from '../../db/client.js'
import { posts, users, type PostRow } from '../../db/schema.js'
import { conflict, notFound, violatedConstraint } from '../../errors.js'
import { storeThenWrite, type MediaContext } from '../../media/lifecycle.js'
import type { NormalizedImage } from '../../media/image.js'
import { likePattern, offsetOf } from '../shared/pagination.js'
import type { ImageChange } from '../shared/routes.js'
import type { PostListQuery } from './schemas.js'

export type PostWithAuthor = PostRow & { authorUsername: string }

export interface PostInput {
  title?: string
  content?: string
  excerpt?: string
  isPublished?: boolean
  slug?: string
}

const IMAGE_FOLDER = 'post_images'

const withAuthor = { ...getTableColumns(posts), authorUsername: users.username }

const orderings: Record<PostListQuery['ordering'], SQL[]> = {
  created_at: [asc(posts.createdAt), asc(posts.id)],
  '-created_at': [desc(posts.createdAt), desc(posts.id)],
  title: [asc(posts.title)],
  '-title': [desc(posts.title)]
}

/** One query for the page (authors joined in), one for the count. */
export async function listPosts(db: Db, query: PostListQuery, viewerIsAdmin: boolean) {
  const published = viewerIsAdmin ? query.is_published : true
  const pattern = query.search === undefined ? undefined : likePattern(query.search)
  const where = and(
    published === undefined ? undefined : eq(posts.isPublished, published),
    pattern === undefined ? undefined : or(ilike(posts.title, pattern), ilike(posts.excerpt, pattern))
  )
  const [rows, [total]] = await Promise.all([
    db
      .select(withAuthor)
      .from(posts)
      .innerJoin(users, eq(users.id, posts.authorId))
      .where(where)
      .orderBy(...orderings[query.ordering])
      .limit(query.page_size)
      .offset(offsetOf(query)),
    db.select({ count: count() }).from(posts).where(where)
  ])
  return { rows, count: total?.count ?? 0 }
}

/** A post the viewer may see: unpublished posts exist for admins only. */
export async function findPost(db: Db, where: { id: number } | { slug: string }, viewerIsAdmin: boolean): Promise<PostWithAuthor> {
  const [row] = await db
    .select(withAuthor)
    .from(posts)
    .innerJoin(users, eq(users.id, posts.authorId))
    .where('id' in where ? eq(posts.id, where.id) : eq(posts.slug, where.slug))
  if (!row || (!row.isPublished && !viewerIsAdmin)) throw notFound('Post')
  return row
}

export async function createPost(context: MediaContext, authorId: number, input: Required<Pick<PostInput, 'title' | 'content'>> & PostInput, image: NormalizedImage | undefined): Promise<number> {
  return storeThenWrite(context, image && { image, folder: IMAGE_FOLDER }, async (tx, name) => {
    const values = { authorId, title: input.title, content: input.content, excerpt: input.excerpt ?? '', isPublished: input.isPublished ?? false, image: name ?? null }
    const id = await insertWithSlug(tx, values, input.slug)
    return { result: id }
  })
}

type NewPost = Omit<typeof posts.$inferInsert, 'slug'>

/**
 * A slug given by the client must be free (409 otherwise); a derived one is made free by
 * numbering, retried in a savepoint if a concurrent request took it first.
 */
async function insertWithSlug(tx: Db, values: NewPost, explicitSlug: string | undefined): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const slug = explicitSlug ?? (await freeSlug(tx, slugFromTitle(values.title)))
    try {
      const [row] = await tx.transaction((savepoint) => savepoint.insert(posts).values({ ...values, slug }).returning({ id: posts.id }))
      return row!.id
    } catch (error) {
      const retry = explicitSlug === undefined && violatedConstraint(error) === 'posts_slug_key' && attempt < 5
      if (!retry) throw asPostConflict(error)
    }
  }
}

export function slugFromTitle(title: string): string {
  const slug = slugify(title).slice(0, 190).replace(/-+$/, '')
  return slug === '' ? 'post' : slug
}

async function freeSlug(tx: Db, base: string): Promise<string> {
  const taken = new Set((await tx.select({ slug: posts.slug }).from(posts).where(or(eq(posts.slug, base), like(posts.slug, `${base}-%`)))).map((row) => row.slug))
  if (!taken.has(base)) return base
  let n = 2
  while (taken.has(`${base}-${n}`)) n += 1
  return `${base}-${n}`
}

/** Unique violations become the 409s a client can act on. */
function asPostConflict(error: unknown): unknown {
  const constraint = violatedConstraint(error)
  if (constraint === 'posts_title_key') return conflict('TITLE_TAKEN', 'A post with this title already exists')
  if (constraint === 'posts_slug_key') return conflict('SLUG_TAKEN', 'A post with this slug already exists')
  return error
}

export async function updatePost(context: MediaContext, id: number, input: PostInput, image: ImageChange): Promise<void> {
  await storeThenWrite(context, image ? { image, folder: IMAGE_FOLDER } : undefined, async (tx, name) => {
    const [current] = await tx.select({ image: posts.image }).from(posts).where(eq(posts.id, id)).for('update')
    if (!current) throw notFound('Post')
    const changes: Partial<typeof posts.$inferInsert> = { ...input, updatedAt: new Date() }
    if (image !== undefined) changes.image = name ?? null
    try {
      await tx.update(posts).set(changes).where(eq(posts.id, id))
    } catch (error) {
      throw asPostConflict(error)
    }
    return { result: undefined, released: image !== undefined ? [current.image] : [] }
  })
}

export async function deletePost(context: MediaContext, id: number): Promise<void> {
  await storeThenWrite(context, undefined, async (tx) => {
    const [deleted] = await tx.delete(posts).where(eq(posts.id, id)).returning({ image: posts.image })
    if (!deleted) throw notFound('Post')
    return { result: undefined, released: [deleted.image] }
  })
}
