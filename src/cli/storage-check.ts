import { loadConfig, readEnvironment } from '../config.js'
import { checkStorage } from '../media/check.js'
import { createStore } from '../media/configured-store.js'
import { runCommand, CommandError } from './run.js'

runCommand(async () => {
  const { media } = loadConfig(readEnvironment())
  const steps = await checkStorage(createStore(media), media)
  const report = [`Media store: ${media.driver}${media.s3 ? ` (bucket ${media.s3.bucket})` : ` (${media.root})`}`, ...steps.map((step) => `${step.ok ? '[ok]' : '[FAIL]'} ${step.line}`)].join('\n')
  if (steps.some((step) => !step.ok)) throw new CommandError(`storage check failed\n${report}`)
  return report
})
