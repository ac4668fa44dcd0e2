import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import { TypeGuard } from '@sinclair/typebox'
import { stringify } from 'yaml'
import { documentedBody, fileFieldsOf } from './forms.js'

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
      info: { title: 'Media-backed content API', version: '1.0.0', description },
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
    // A write body with file fields is shown in both bodies it accepts: a form and JSON.
    transform: ({ schema, url }) => {
      const body: unknown = schema?.body
      return { schema: TypeGuard.IsObject(body) && fileFieldsOf(body).length > 0 ? { ...schema, body: documentedBody(body) } : schema, url }
    },
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

/** YAML without anchors and aliases, which some importers do not follow. */
export function openApiYaml(app: FastifyInstance): string {
  return stringify(app.swagger(), { aliasDuplicateObjects: false, lineWidth: 0 })
}

export default fp(openApiPlugin, { name: 'openapi', fastify: '5.x' })
