import { writeFileSync } from 'node:fs'
import { defaultOpenApiYaml } from './openapi-document.js'
import { runCommand } from './run.js'

runCommand(async () => {
  const file = process.argv[2] ?? 'openapi.yaml'
  writeFileSync(file, await defaultOpenApiYaml())
  return `Wrote ${file}`
})
