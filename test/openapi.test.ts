import { readFileSync } from 'node:fs'
import t from 'tap'
import { Validator } from '@seriousme/openapi-schema-validator'
import { defaultOpenApiYaml } from '../src/cli/openapi-document.js'
import { buildTestApp } from './helpers/app.js'
import { projectRoot } from './helpers/process.js'

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
    type Operation = { parameters?: Array<{ in: string; name: string; required?: boolean }>; requestBody?: { content: Record<string, { schema: { properties: Record<string, { type?: string; format?: string }> } }> } }
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
          t.same(Object.keys(content), ['multipart/form-data', 'application/json'], `${method} ${path}: the form comes first`)
          const files = Object.entries(content['multipart/form-data']!.schema.properties).filter(([, p]) => p.format === 'binary')
          t.ok(files.length > 0 && files.every(([, p]) => p.type === 'string'), `${method} ${path}: files are type string, format binary`)
        }
      }
    }
    t.ok(forms >= 3, 'the write routes take forms')
    t.notMatch(JSON.stringify(document), /"type":"null"/, 'nullable, not type null, in OpenAPI 3.0')
    t.notMatch((await app.inject({ url: '/openapi.yaml' })).body, /&a\d|\*a\d/, 'no YAML aliases')
  })

  await t.test('the browsable reference answers', async (t) => {
    const res = await app.inject({ url: '/docs/' })
    t.equal(res.statusCode, 200)
    t.match(res.headers['content-type'], /text\/html/)
    t.match(res.body, /swagger/i)
  })
})
