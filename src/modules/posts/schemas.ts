import { Type, type Static } from '@sinclair/typebox'
import { FileField, RequiredFile, writeBody } from '../../plugins/forms.js'
import { Ordering, Page, PageQuery } from '../shared/pagination.js'
import { UserRef } from '../shared/user-ref.js'
import { IntegerId } from '../shared/ids.js'
import { NullableUrl } from '../shared/nullable.js'
import { NullableImageInfo } from '../shared/image-info.js'

const Slug = Type.String({
  minLength: 1,
  maxLength: 200,
  pattern: '^[a-z0-9]+(-[a-z0-9]+)*$',
  'x-error-code': 'not_a_slug',
  description: 'Lowercase letters, digits and single hyphens; unique',
  example: 'hello-world'
})

/** The fields an admin writes; `image` is added by `writeBody` (a file in forms, null in JSON). */
const PostFields = Type.Object({
  title: Type.String({ minLength: 1, maxLength: 200, description: 'Unique title', example: 'Hello, world' }),
  content: Type.String({ minLength: 1, maxLength: 100_000, description: 'The body of the post', example: 'First post.' }),
  excerpt: Type.Optional(Type.String({ maxLength: 1000, description: 'Short summary for lists (default empty)' })),
  is_published: Type.Optional(Type.Boolean({ description: 'Visible to everyone (default false)' })),
  slug: Type.Optional(Slug)
})

const IMAGE = 'Image file: JPEG, PNG, WebP, GIF or AVIF'
const imageFile = { image: FileField(IMAGE) }

/** POST and PUT: title and content required; absent optional fields take their defaults (slug and image are kept). */
export const PostWrite = writeBody(PostFields, imageFile, 'PostWrite')
/** PATCH: only what is sent changes. */
export const PostPatch = writeBody(Type.Partial(PostFields), imageFile, 'PostPatch')
/** PUT .../image: the image alone, in a form. */
export const PostImage = writeBody(Type.Object({}), { image: RequiredFile(IMAGE) }, 'PostImage')
export type PostWrite = Static<typeof PostWrite>
export type PostPatch = Static<typeof PostPatch>


const postListProperties = {
  id: Type.Integer({ example: 1 }),
  title: Type.String(),
  slug: Type.String(),
  excerpt: Type.String(),
  image: NullableUrl('Absolute URL of the image, or null'),
  image_info: NullableImageInfo,
  author: UserRef,
  is_published: Type.Boolean(),
  created_at: Type.String({ format: 'date-time' })
}

export const PostList = Type.Object(postListProperties, { title: 'PostList', description: 'A post the way lists show it' })
export type PostList = Static<typeof PostList>

export const PostDetail = Type.Object(
  {
    ...postListProperties,
    content: Type.String(),
    updated_at: Type.String({ format: 'date-time' }),
    url: Type.String({ format: 'uri', description: 'Absolute URL of this post in the API' })
  },
  { title: 'PostDetail', description: 'A post with its content' }
)
export type PostDetail = Static<typeof PostDetail>

export const PostPage = Page(PostList, 'PostPage')


export const PostListQuery = Type.Object(
  {
    ...PageQuery,
    ordering: Ordering(['created_at', '-created_at', 'title', '-title']),
    is_published: Type.Optional(Type.Boolean({ description: 'Admins only: filter on publication (ignored for others)' }))
  }
)
export type PostListQuery = Static<typeof PostListQuery>

export const PostIdParams = Type.Object({ id: IntegerId('Post id (a malformed id is 404)') })
export const PostSlugParams = Type.Object({ slug: Type.String() })
