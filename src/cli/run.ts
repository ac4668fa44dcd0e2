import { ConfigError } from '../config.js'
import { AppError } from '../errors.js'

/** Runs a command-line task: its result on stdout, a known failure as one line on stderr. */
export function runCommand(task: () => Promise<string>): void {
  task().then(
    (message) => {
      process.stdout.write(`${message}\n`)
    },
    (error: unknown) => {
      const known = error instanceof ConfigError || error instanceof AppError || error instanceof UsageError
      console.error(known ? `Error: ${error.message}` : error)
      process.exitCode = 1
    }
  )
}

/** A mistake in how the command was called; printed without a stack trace. */
export class UsageError extends Error {
  override name = 'UsageError'
}
