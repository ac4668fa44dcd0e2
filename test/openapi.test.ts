import { readFileSync } from 'node:fs'
import t from 'tap'
import { Validator } from '@seriousme/openapi-schema-validator'
import { defaultOpenApiYaml } from '../src/cli/openapi-document.js'
import { buildTestApp } from './helpers/app.js'
import { projectRoot } from './helpers/process.js'
import { errorCodes } from '../src/errors/catalogue.js'

t.test('the committed openapi.yaml is what the app generates (run `npm run openapi` after changing routes)', async (t) => {
  const committed = readFileSync(`${projectRoot}/openapi.yaml`, 'utf8')
  t.equal(committed, await defaultOpenApiYaml())
})

t.test('the live document', async (t) => {
  const app = await buildTestApp(t, { PUBLIC_URL: 'https://api.example.com' })

  await t.test('is valid OpenAPI 3.0 and served as JSON and YAML', async (t) => {
    const res = await app.inject({ url: '/openapi.json' })
    t.equal(res.statusCode, 200)
    const document = res.json()
    const result = await new Validator().validate(document)
    t.same(result.errors, undefined)
    t.ok(result.valid)
    t.equal(document.openapi, '3.0.3')
    t.same(document.servers, [{ url: 'https://api.example.com' }])
    const yaml = await app.inject({ url: '/openapi.yaml' })
    t.match(yaml.headers['content-type'], /yaml/)
    t.match(yaml.body, /^openapi: 3\.0\.3/)
  })

  await t.test('describes security and errors on every route', async (t) => {
    const document = (await app.inject({ url: '/openapi.json' })).json()
    t.same(document.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
    t.same(document.paths['/api/v1/auth/me'].get.security, [{ bearerAuth: [] }])
    for (const [path, operations] of Object.entries<Record<string, { tags?: string[]; summary?: string; responses: object }>>(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        t.ok(operation.summary, `${method} ${path} has a summary`)
        t.ok(operation.tags?.length, `${method} ${path} has a tag`)
        if (path.startsWith('/api/')) t.ok('500' in operation.responses && '503' in operation.responses, `${method} ${path} documents 500/503`)
      }
    }
    t.notOk(document.paths['/openapi.json'], 'the spec routes themselves are hidden')
  })

  await t.test('imports cleanly: forms first, files as binary, path parameters declared, no 3.1 nulls', async (t) => {
    const document = (await app.inject({ url: '/openapi.json' })).json()
    type Schema = { $ref?: string; properties?: Record<string, { type?: string; format?: string }>; required?: string[] }
    type Operation = { parameters?: Array<{ in: string; name: string; required?: boolean }>; requestBody?: { content: Record<string, { schema: Schema }> } }
    const resolve = (schema: Schema): Schema => (schema.$ref ? document.components.schemas[schema.$ref.replace('#/components/schemas/', '')] : schema)
    let forms = 0
    for (const [path, operations] of Object.entries<Record<string, Operation>>(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        for (const name of path.match(/\{(\w+)\}/g) ?? []) {
          const declared = operation.parameters?.find((p) => p.in === 'path' && `{${p.name}}` === name)
          t.ok(declared?.required, `${method} ${path} declares ${name}`)
        }
        const content = operation.requestBody?.content
        if (content && 'multipart/form-data' in content) {
          forms += 1
          const form = resolve(content['multipart/form-data']!.schema)
          const files = Object.entries(form.properties ?? {}).filter(([, p]) => p.format === 'binary')
          t.ok(files.length > 0 && files.every(([, p]) => p.type === 'string'), `${method} ${path}: files are type string, format binary`)
          const fileRequired = files.some(([name]) => form.required?.includes(name))
          t.same(Object.keys(content), fileRequired ? ['multipart/form-data'] : ['multipart/form-data', 'application/json'], `${method} ${path}: the form comes first, and alone when a file is required`)
        }
      }
    }
    t.ok(forms >= 7, 'the write routes take forms')
    t.notMatch(JSON.stringify(document), /"type":"null"/, 'nullable, not type null, in OpenAPI 3.0')
    t.notMatch((await app.inject({ url: '/openapi.yaml' })).body, /&a\d|\*a\d/, 'no YAML aliases')
  })

  await t.test('names what a generated client needs: operations, shapes, optional defaults, headers', async (t) => {
    const document = (await app.inject({ url: '/openapi.json' })).json()
    type Response = { headers?: Record<string, unknown> }
    type Operation = { operationId?: string; description?: string; parameters?: Array<{ in: string; name: string; required?: boolean; schema: { default?: unknown } }>; responses: Record<string, Response> }
    const operations = Object.entries<Record<string, Operation>>(document.paths).flatMap(([path, item]) => Object.entries(item).map(([method, operation]) => ({ path, method, operation })))
    const ids = operations.map(({ operation }) => operation.operationId)
    t.same(new Set(ids).size, ids.length, 'operation ids are unique')
    for (const id of ['listPosts', 'getPost', 'getPostBySlug', 'createPost', 'replacePost', 'updatePost', 'deletePost', 'setPostImage', 'deletePostImage', 'listBooks', 'getBook', 'createBook', 'replaceBook', 'updateBook', 'deleteBook', 'setBookCover', 'deleteBookCover', 'listReviews', 'createReview', 'deleteReview', 'register', 'login', 'getMe']) {
      t.ok(ids.includes(id), id)
    }
    for (const name of ['User', 'UserRef', 'PostList', 'PostDetail', 'PostPage', 'BookList', 'BookDetail', 'BookPage', 'Review', 'ReviewPage', 'BookWrite', 'BookPatch', 'BookCover', 'PostWrite', 'PostPatch', 'PostImage', 'ReviewWrite', 'ErrorResponse']) {
      t.ok(document.components.schemas[name], `components.schemas.${name}`)
    }
    t.same(document.paths['/api/v1/books/{id}'].get.responses['200'].content['application/json'].schema, { $ref: '#/components/schemas/BookDetail' }, 'operations refer to the named shapes')
    t.match(document.info, { contact: { url: String }, license: { name: String } })
    for (const { path, method, operation } of operations) {
      t.ok(operation.description, `${method} ${path} is described`)
      for (const parameter of operation.parameters ?? []) {
        if (parameter.schema.default !== undefined) t.notOk(parameter.required, `${method} ${path}: ${parameter.name} has a default, so it is optional`)
      }
      for (const [status, response] of Object.entries(operation.responses)) {
        t.ok(response.headers?.['X-Request-Id'], `${method} ${path} ${status} declares X-Request-Id`)
        if (status === '401') t.ok(response.headers?.['WWW-Authenticate'], `${method} ${path} 401 declares WWW-Authenticate`)
        if (status === '429' || status === '503') t.ok(response.headers?.['Retry-After'], `${method} ${path} ${status} declares Retry-After`)
      }
    }
    t.ok(document.paths['/api/v1/books'].post.responses['201'].headers.Location, '201 declares Location')
    t.same(document.components.schemas.ErrorResponse.properties.code.enum, errorCodes, 'the error code is an enum of the catalogue')
    t.notMatch(JSON.stringify(document), /\\p\{/, 'no Unicode property classes in patterns')
    t.notMatch(JSON.stringify(document), /documentedAs/, 'documentation annotations are applied, not published')
  })

  await t.test('the browsable reference answers', async (t) => {
    const res = await app.inject({ url: '/docs/' })
    t.equal(res.statusCode, 200)
    t.match(res.headers['content-type'], /text\/html/)
    t.match(res.body, /swagger/i)
  })
})
