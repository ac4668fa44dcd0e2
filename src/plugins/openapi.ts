import type { FastifyInstance, FastifySchema } from 'fastify'
import fp from 'fastify-plugin'
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import { TypeGuard, type TObject } from '@sinclair/typebox'
import { stringify } from 'yaml'
import { documentedBody, documentedField, fileFieldsOf } from './forms.js'
import { declareHeaders, nameSchemas } from './openapi-components.js'
import { errorResponses } from '../errors/schema.js'

export interface OpenApiOptions {
  publicUrl: string
}

const description = `REST JSON API for admin-written blog posts and user-owned books with reviews.
Images are uploaded in \`multipart/form-data\` forms, checked from their bytes, re-encoded without metadata and stored
under a \`media/\` prefix; every image field is an absolute URL.

Errors always have the shape \`{statusCode, code, error, message}\` with a stable \`code\`.
Authenticate with \`POST /api/v1/auth/login\` and send \`Authorization: Bearer <access_token>\`.

**Safe retries.** Every POST, PUT, PATCH and DELETE accepts an \`Idempotency-Key\` header. A repeat with
the same key and the same request (method, path, body, uploaded bytes) answers the stored result for 24 hours
without doing the work again, with \`Idempotent-Replayed: true\`; the same key with a different request is 422
\`IDEMPOTENCY_KEY_REUSED\`; a repeat while the first is still running is 409 \`IDEMPOTENCY_KEY_IN_USE\`. Answers
below 500 are kept; after a 5xx, retry with the same key: if the change committed after all, the retry gets its
answer. Keys belong to their caller. Login ignores the header (it changes nothing and is safe to retry).`

async function openApiPlugin(app: FastifyInstance, options: OpenApiOptions) {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Media-backed content API',
        version: '1.0.0',
        description,
        // The people who run this deployment answer for it; its reference is the way to them.
        contact: { name: 'API support', url: `${options.publicUrl}/docs` },
        license: { name: 'Proprietary', url: `${options.publicUrl}/docs` }
      },
      servers: [{ url: options.publicUrl }],
      tags: [
        { name: 'auth', description: 'Users, login and tokens' },
        { name: 'posts', description: 'Blog posts, written by admins' },
        { name: 'books', description: 'Books, owned by the users who add them' },
        { name: 'reviews', description: 'Reviews of books' },
        { name: 'operations', description: 'Health and readiness probes' }
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }
        }
      }
    },
    transform: ({ schema, url }) => ({ schema: documentedRoute(schema), url }),
    transformObject: (document) => ('openapiObject' in document ? declareHeaders(nameSchemas(document.openapiObject)) : document.swaggerObject),
    // Shared schemas become named components (`#/components/schemas/User`), not `def-0`.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) }
  })

  await app.register(fastifySwaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    // The reason given in app.ts: the page must load over plain http too.
    transformStaticCSP: (header) => header.replace(/\s*upgrade-insecure-requests;?/, '')
  })

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
  app.get('/openapi.yaml', { schema: { hide: true } }, async (_request, reply) =>
    reply.type('application/yaml; charset=utf-8').send(openApiYaml(app))
  )
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null

/**
 * A route's schema the way its users need it documented: the errors any body can cause, a
 * write body with file fields in both bodies it accepts (a form and JSON), parameters in their `documentedAs` form, and a
 * query parameter with a default optional, since the server fills it in.
 */
function documentedRoute(schema: FastifySchema): FastifySchema {
  const body: unknown = schema.body
  const query: unknown = schema.querystring
  const params: unknown = schema.params
  return {
    ...schema,
    // Every body may be malformed, too slow, too large or of a type the route does not take.
    ...(body === undefined ? {} : { response: { ...errorResponses(400, 408, 413, 415), ...(isRecord(schema.response) ? schema.response : {}) } }),
    ...(TypeGuard.IsObject(body) && fileFieldsOf(body).length > 0 ? { body: documentedBody(body) } : {}),
    ...(TypeGuard.IsObject(query) ? { querystring: optionalDefaults(documentedProperties(query)) } : {}),
    ...(TypeGuard.IsObject(params) ? { params: documentedProperties(params) } : {})
  }
}

function documentedProperties(schema: TObject): TObject {
  return { ...schema, properties: Object.fromEntries(Object.entries(schema.properties).map(([name, field]) => [name, documentedField(field)])) }
}

function optionalDefaults(query: TObject): TObject {
  return { ...query, required: (query.required ?? []).filter((name) => query.properties[name]?.default === undefined) }
}

/** YAML without anchors and aliases, which some importers do not follow. */
export function openApiYaml(app: FastifyInstance): string {
  return stringify(app.swagger(), { aliasDuplicateObjects: false, lineWidth: 0 })
}

export default fp(openApiPlugin, { name: 'openapi', fastify: '5.x' })
