import type { FastifyReply, FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type, type TSchema } from '@sinclair/typebox'
import { errorResponses } from '../../errors/schema.js'
import { callerOf } from '../../plugins/auth.js'
import { answering, sendAnswer } from '../../plugins/idempotency.js'
import { toPage } from '../shared/pagination.js'
import { bearer, created, optionalBearer, parseIntegerId, UPLOAD_ERRORS } from '../shared/routes.js'
import { findPost, listPosts, postWrites, type PostInput } from './posts.js'
import { PostDetail, PostIdParams, PostImage, PostListQuery, PostPage, PostPatch, PostSlugParams, PostWrite } from './schemas.js'
import { postShapes } from './shape.js'

export interface PostRoutesOptions {
  publicUrl: string
}

const adminOnly = bearer()
const optionalAuth = optionalBearer()

const parseId = (raw: string) => parseIntegerId(raw, 'Post')

/** The change a write asks for; PUT replaces the post, so what it does not send takes its default (the slug and image are kept). */
function toInput(body: PostPatch, replace: boolean): PostInput {
  const input: PostInput = { title: body.title, content: body.content, excerpt: body.excerpt, slug: body.slug, isPublished: body.is_published, image: body.image }
  if (replace) {
    input.excerpt ??= ''
    input.isPublished ??= false
  }
  return input
}

const postRoutes: FastifyPluginAsyncTypebox<PostRoutesOptions> = async (app, { publicUrl }) => {
  const isAdmin = (request: FastifyRequest) => request.caller?.isAdmin === true
  const postUrl = (id: number) => `${publicUrl}/api/v1/posts/${id}`
  const shape = postShapes(app.media.url, postUrl)
  const posts = postWrites(app.media.context())

  app.get('/', {
    onRequest: app.identify,
    schema: {
      tags: ['posts'],
      operationId: 'listPosts',
      summary: 'List posts',
      description: 'Published posts, newest first. Admins also see unpublished posts and may filter with `is_published`.',
      security: optionalAuth,
      querystring: PostListQuery,
      response: { 200: PostPage, ...errorResponses(400, 401, 404) }
    },
    handler: async (request) => {
      const { rows, count } = await listPosts(app.db, request.query, isAdmin(request))
      return toPage(request, publicUrl, request.query, count, rows.map(shape.list))
    }
  })

  app.get('/:id', {
    onRequest: app.identify,
    schema: {
      tags: ['posts'],
      operationId: 'getPost',
      summary: 'A post by id',
      description: 'Unpublished posts are 404 for everyone but admins.',
      security: optionalAuth,
      params: PostIdParams,
      response: { 200: PostDetail, ...errorResponses(401, 404) }
    },
    handler: async (request) => shape.detail(await findPost(app.db, { id: parseId(request.params.id) }, isAdmin(request)))
  })

  app.get('/slug/:slug', {
    onRequest: app.identify,
    schema: {
      tags: ['posts'],
      operationId: 'getPostBySlug',
      summary: 'A post by slug',
      description: 'Unpublished posts are 404 for everyone but admins.',
      security: optionalAuth,
      params: PostSlugParams,
      response: { 200: PostDetail, ...errorResponses(401, 404) }
    },
    handler: async (request) => shape.detail(await findPost(app.db, { slug: request.params.slug }, isAdmin(request)))
  })

  app.post('/', {
    onRequest: app.requireAdmin,
    schema: {
      tags: ['posts'],
      operationId: 'createPost',
      summary: 'Create a post (admins)',
      description: 'Send `multipart/form-data` to upload an image (`-F image=@photo.jpg`), or JSON without one. The slug is derived from the title when absent.',
      security: adminOnly,
      body: PostWrite,
      response: { 201: created(PostDetail), ...errorResponses(...UPLOAD_ERRORS) }
    },
    handler: async (request, reply) => {
      const input = { ...toInput(request.body, true), title: request.body.title, content: request.body.content }
      const answer = await posts.create(callerOf(request), input, answering(request, reply, (_tx, post) =>
        ({ statusCode: 201, headers: { location: postUrl(post.id) }, body: shape.detail(post) })
      ))
      return sendAnswer(reply, answer)
    }
  })

  // Every change of a post is a patch: PUT's body is a PATCH's with every required field
  // present, and the image routes change the image alone.
  const change = async (request: FastifyRequest & { params: { id: string } }, reply: FastifyReply, input: PostInput) => {
    const answer = await posts.update(parseId(request.params.id), input, answering(request, reply, (_tx, post) => ({ statusCode: 200, body: shape.detail(post) })))
    return sendAnswer(reply, answer)
  }
  const update = (replace: boolean) => (request: FastifyRequest<{ Params: { id: string }; Body: PostPatch }>, reply: FastifyReply) =>
    change(request, reply, toInput(request.body, replace))
  const writeSchema = <B extends TSchema>(operationId: string, summary: string, body: B) => ({
    tags: ['posts'],
    operationId,
    summary,
    security: adminOnly,
    params: PostIdParams,
    body,
    response: { 200: PostDetail, ...errorResponses(...UPLOAD_ERRORS, 404) }
  })

  app.put('/:id', {
    onRequest: app.requireAdmin,
    schema: {
      ...writeSchema('replacePost', 'Replace a post (admins)', PostWrite),
      description: 'Title and content are required; excerpt and is_published fall back to their defaults. The slug and image are kept unless sent; an empty image (or JSON null) removes it.'
    },
    handler: update(true)
  })

  app.patch('/:id', {
    onRequest: app.requireAdmin,
    schema: { ...writeSchema('updatePost', 'Change some fields of a post (admins)', PostPatch), description: 'Only the fields sent change. An empty image (or JSON null) removes it.' },
    handler: update(false)
  })

  app.put('/:id/image', {
    onRequest: app.requireAdmin,
    schema: {
      ...writeSchema('setPostImage', 'Upload or replace the image (admins)', PostImage),
      description: 'A `multipart/form-data` form with the image in `image` and no other field: the way for a generated client to send a file. The old image is deleted once the new one is in place.'
    },
    handler: (request, reply) => change(request, reply, { image: request.body.image })
  })

  app.delete('/:id/image', {
    onRequest: app.requireAdmin,
    schema: {
      tags: ['posts'],
      operationId: 'deletePostImage',
      summary: 'Remove the image (admins)',
      description: 'The post stays; its image is deleted from the media store after the change is saved. A post without an image answers as it is.',
      security: adminOnly,
      params: PostIdParams,
      response: { 200: PostDetail, ...errorResponses(401, 403, 404) }
    },
    handler: (request, reply) => change(request, reply, { image: null })
  })

  app.delete('/:id', {
    onRequest: app.requireAdmin,
    schema: {
      tags: ['posts'],
      operationId: 'deletePost',
      summary: 'Delete a post and its image (admins)',
      description: 'The image is deleted from the media store after the post is gone.',
      security: adminOnly,
      params: PostIdParams,
      response: { 204: Type.Null({ description: 'Deleted' }), ...errorResponses(401, 403, 404) }
    },
    handler: async (request, reply) => {
      const answer = await posts.remove(parseId(request.params.id), answering(request, reply, () => ({ statusCode: 204 })))
      return sendAnswer(reply, answer)
    }
  })
}

export default postRoutes
