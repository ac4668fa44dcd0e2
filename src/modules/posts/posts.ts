import slugify from '@sindresorhus/slugify'
import { and, asc, desc, eq, getTableColumns, ilike, like, or, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../../db/client.js'
import { countedRows, keptCount } from '../../db/counts.js'
import { preparedStatement, preparedStatements } from '../../db/prepared.js'
import { posts, users, type PostRow } from '../../db/schema.js'
import { AppError, notFound } from '../../errors/app-error.js'
import { violatedConstraint } from '../../db/errors.js'
import { writeFileField, type MediaContext, type WriteRequest } from '../../media/lifecycle.js'
import type { Upload } from '../../media/image.js'
import type { AuthUser } from '../../plugins/auth.js'
import { likePattern, searchOf, offsetOf } from '../shared/pagination.js'
import type { PostListQuery } from './schemas.js'

export type PostWithAuthor = PostRow & { authorUsername: string }

const IMAGE_FOLDER = 'post_images'

const withAuthor = { ...getTableColumns(posts), authorUsername: users.username }
// Lists never show the content: not reading it keeps the page query small.
const { content: _content, updatedAt: _updatedAt, ...listColumns } = withAuthor
export type PostListRow = Omit<PostWithAuthor, 'content' | 'updatedAt'>

const orderings: Record<PostListQuery['ordering'], SQL[]> = {
  created_at: [asc(posts.createdAt), asc(posts.id)],
  '-created_at': [desc(posts.createdAt), desc(posts.id)],
  title: [asc(posts.title)],
  '-title': [desc(posts.title)]
}

// Only admins filter on `is_published`; unpublished posts are all posts but the published ones.
const publishedTotal = () =>
  sql<number>`case when ${sql.placeholder('published')}::boolean then ${keptCount('published_posts')} else ${keptCount('posts')} - ${keptCount('published_posts')} end`

interface ListShape {
  ordering: PostListQuery['ordering']
  filterPublished: boolean
  searching: boolean
}

/** The list statement, prepared once per filter shape. */
const postList = preparedStatements(
  ({ ordering, filterPublished, searching }: ListShape) => `posts_list_${ordering.replace('-', 'desc_')}_${filterPublished}_${searching}`,
  (db, { ordering, filterPublished, searching }, name) => {
    const pattern = sql.placeholder('pattern')
    const where = and(
      filterPublished ? eq(posts.isPublished, sql.placeholder('published')) : undefined,
      searching ? or(ilike(posts.title, pattern), ilike(posts.excerpt, pattern)) : undefined
    )
    // The total rides along in an uncorrelated subquery: one round trip per page, not two.
    const total = searching ? countedRows(posts, where) : filterPublished ? publishedTotal() : keptCount('posts')
    return db
      .select({ ...listColumns, total })
      .from(posts)
      .innerJoin(users, eq(users.id, posts.authorId))
      .where(where)
      .orderBy(...orderings[ordering])
      .limit(sql.placeholder('limit'))
      .offset(sql.placeholder('offset'))
      .prepare(name)
  }
)

/** The page, its authors and the total count in one prepared query. */
export async function listPosts(db: Db, query: PostListQuery, viewerIsAdmin: boolean) {
  const published = viewerIsAdmin ? query.is_published : true
  const search = searchOf(query)
  const statement = postList(db, { ordering: query.ordering, filterPublished: published !== undefined, searching: search !== undefined })
  const values = { published, pattern: search === undefined ? undefined : likePattern(search), limit: query.page_size, offset: offsetOf(query) }
  const rows = await statement.execute(values)
  // An empty page has no row to carry the total: it is page 1 of an empty list, or past the end.
  return { rows, count: rows[0]?.total ?? 0 }
}

/** A post the viewer may see: unpublished posts exist for admins only. */
const postBy = (column: typeof posts.id | typeof posts.slug) => (db: Db, name: string) =>
  db.select(withAuthor).from(posts).innerJoin(users, eq(users.id, posts.authorId)).where(eq(column, sql.placeholder('value'))).prepare(name)
const postById = preparedStatement('post_by_id', postBy(posts.id))
const postBySlug = preparedStatement('post_by_slug', postBy(posts.slug))

export async function findPost(db: Db, where: { id: number } | { slug: string }, viewerIsAdmin: boolean): Promise<PostWithAuthor> {
  const query = 'id' in where ? postById(db) : postBySlug(db)
  const [row] = await query.execute({ value: 'id' in where ? where.id : where.slug })
  if (!row || (!row.isPublished && !viewerIsAdmin)) throw notFound('Post')
  return row
}

type NewPost = Omit<typeof posts.$inferInsert, 'slug'>

/**
 * A slug given by the client must be free (409 otherwise); a derived one is made free by
 * numbering. Writers of the same derived slug take turns (a lock held until commit), so
 * each sees the numbers the others took; a concurrent explicit slug is met by a retry.
 */
async function insertWithSlug(tx: Db, values: NewPost, explicitSlug: string | undefined): Promise<PostRow> {
  for (let attempt = 1; ; attempt++) {
    const slug = explicitSlug ?? (await freeSlug(tx, await lockSlug(tx, slugFromTitle(values.title))))
    try {
      const [row] = await tx.transaction((savepoint) => savepoint.insert(posts).values({ ...values, slug }).returning())
      return row!
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

// The first key of the advisory locks that serialize derived slugs (the second is the slug's hash).
const SLUG_LOCK = 1

async function lockSlug(tx: Db, base: string): Promise<string> {
  await tx.execute(sql`select pg_advisory_xact_lock(${SLUG_LOCK}, hashtext(${base}))`)
  return base
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
  if (constraint === 'posts_title_key') return new AppError('TITLE_TAKEN')
  if (constraint === 'posts_slug_key') return new AppError('SLUG_TAKEN')
  return error
}

/** What a post write changes; absent fields are left untouched. */
export interface PostInput {
  title?: string
  content?: string
  excerpt?: string
  isPublished?: boolean
  slug?: string
  image?: Upload | null
}

/**
 * The writes of posts. Each stores the new image (if any) and writes the row together,
 * releases a replaced or removed image after the commit, and makes its answer (the
 * request's `answer`) inside the transaction from the row it wrote.
 */
export function postWrites(media: MediaContext) {
  const image = (upload: Upload | null | undefined) => ({ upload, folder: IMAGE_FOLDER })
  return {
    create: <A>(author: Pick<AuthUser, 'id' | 'username'>, input: PostInput & { title: string; content: string }, request: WriteRequest<PostWithAuthor, A>) =>
      writeFileField(media, request, image(input.image), async (tx, name, info) => {
        const values = { authorId: author.id, title: input.title, content: input.content, excerpt: input.excerpt ?? '', isPublished: input.isPublished ?? false, image: name ?? null, imageInfo: info ?? null }
        return { result: { ...(await insertWithSlug(tx, values, input.slug)), authorUsername: author.username } }
      }),

    update: async <A>(id: number, input: PostInput, request: WriteRequest<PostWithAuthor, A>) => {
      // 404 before any image work.
      const [exists] = await media.db.select({ id: posts.id }).from(posts).where(eq(posts.id, id))
      if (!exists) throw notFound('Post')
      return writeFileField(media, request, image(input.image), async (tx, name, info) => {
        const [current] = await tx.select({ name: posts.image, info: posts.imageInfo }).from(posts).where(eq(posts.id, id)).for('update')
        if (!current) throw notFound('Post')
        const { image: _upload, ...fields } = input
        const changes: Partial<typeof posts.$inferInsert> = { ...fields, updatedAt: new Date() }
        if (name !== undefined) Object.assign(changes, { image: name, imageInfo: info ?? null })
        const [row] = await tx.update(posts).set(changes).from(users).where(and(eq(posts.id, id), eq(users.id, posts.authorId))).returning(withAuthor).catch((error: unknown) => {
          throw asPostConflict(error)
        })
        return { result: row!, released: name !== undefined ? [current] : [] }
      })
    },

    remove: <A>(id: number, request: WriteRequest<void, A>) =>
      writeFileField(media, request, undefined, async (tx) => {
        const [deleted] = await tx.delete(posts).where(eq(posts.id, id)).returning({ name: posts.image, info: posts.imageInfo })
        if (!deleted) throw notFound('Post')
        return { result: undefined, released: [deleted] }
      })
  }
}
