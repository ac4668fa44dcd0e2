import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

export const projectRoot = fileURLToPath(new URL('../..', import.meta.url))

export interface Finished {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a compiled script of `dist/` to the end with exactly the given environment (plus PATH). */
export async function runScript(script: string, args: string[], env: Record<string, string>): Promise<Finished> {
  const child = spawn(process.execPath, [script, ...args], { cwd: projectRoot, env: { PATH: process.env.PATH ?? '', ...env } })
  const output = collect(child)
  const [code] = await once(child, 'exit')
  return { code: code as number | null, ...output }
}

function collect(child: ChildProcess) {
  const output = { stdout: '', stderr: '' }
  child.stdout?.on('data', (chunk: Buffer) => (output.stdout += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()))
  return output
}

export interface RunningServer {
  url: string
  child: ChildProcess
  output: { stdout: string; stderr: string }
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/** Starts `dist/server.js` on a free port and resolves once it listens. */
export async function startServer(env: Record<string, string>): Promise<RunningServer> {
  const child = spawn(process.execPath, ['dist/server.js'], {
    cwd: projectRoot,
    env: { PATH: process.env.PATH ?? '', PORT: '0', LOG_LEVEL: 'info', ...env }
  })
  const output = collect(child)
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${output.stderr}`)), 30_000)
    child.stdout?.on('data', () => {
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output.stdout)
      if (match?.[1]) {
        clearTimeout(timer)
        resolve(match[1])
      }
    })
    child.on('exit', () => reject(new Error(`server exited: ${output.stderr}`)))
  })
  return {
    url,
    child,
    output,
    async stop(signal = 'SIGTERM') {
      const exited = once(child, 'exit')
      child.kill(signal)
      const [code] = await exited
      return code as number | null
    }
  }
}
