import { ConfigError } from '../config.js'
import { AppError, StartupError } from '../errors/app-error.js'

/** Runs a command-line task: its result on stdout, a known failure in one line on stderr. */
export function runCommand(task: () => Promise<string>): void {
  task().then(
    (message) => {
      process.stdout.write(`${message}\n`)
    },
    (error: unknown) => {
      const known = error instanceof ConfigError || error instanceof AppError || error instanceof CommandError || error instanceof StartupError
      console.error(known ? `Error: ${error.message}` : error)
      process.exitCode = 1
    }
  )
}

/** Where a command's warnings go: one line each on stderr. */
export const commandLog = {
  warn: (details: { err?: unknown; name?: string }, message: string) => console.warn(`${message}: ${details.name ?? ''} ${String(details.err ?? '')}`)
}

/** A failure the operator can act on (a wrong argument, a failed check); printed without a stack trace. */
export class CommandError extends Error {
  override name = 'CommandError'
}
