// Types for openapi-fetch from the API's document, with file fields typed as `Blob`
// (the openapi-typescript documentation's `transform`; its command line types them `string`).
//   node examples/clients/openapi-fetch/generate.mjs openapi.yaml src/api/schema.d.ts
import { writeFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import ts from 'typescript'
import openapiTS, { astToString } from 'openapi-typescript'

const [input = 'openapi.yaml', output = 'schema.d.ts'] = process.argv.slice(2)
const BLOB = ts.factory.createTypeReferenceNode(ts.factory.createIdentifier('Blob'))
const NULL = ts.factory.createLiteralTypeNode(ts.factory.createNull())

const ast = await openapiTS(pathToFileURL(input), {
  transform(schema) {
    if (schema.format === 'binary') return schema.nullable ? ts.factory.createUnionTypeNode([BLOB, NULL]) : BLOB
  }
})
writeFileSync(output, astToString(ast))
