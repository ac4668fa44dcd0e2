import { fork, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const root = fileURLToPath(new URL('..', import.meta.url))

/** Starts a TypeScript helper of the benchmark in its own process and waits for its first message. */
export async function startHelper<T>(file: string, args: string[] = []): Promise<{ child: ChildProcess; first: T }> {
  const child = fork(fileURLToPath(new URL(file, import.meta.url)), args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const [first] = (await once(child, 'message')) as [T]
  return { child, first }
}

/** Starts the built service (`dist/server.js`) and resolves when `/readyz` answers 200. */
export async function startService(env: Record<string, string>, port: number, cwd = root): Promise<ChildProcess> {
  // BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the service under load.
  const nodeArgs = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []
  const child = spawn(process.execPath, [...nodeArgs, 'dist/server.js'], { cwd, env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' }, stdio: ['ignore', 'ignore', 'inherit'] })
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the service exited with ${child.exitCode}`)
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false)
    if (ready) return child
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  throw new Error('the service did not become ready within 60 s')
}

export async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  await exited
}

/** Samples a process's resident memory while `work` runs; answers the peak in MB. */
export async function peakRss<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; peakMb: number }> {
  let peak = 0
  const sample = () => {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    peak = Math.max(peak, Number(match?.[1] ?? 0) / 1024)
  }
  const timer = setInterval(sample, 50)
  try {
    sample()
    const result = await work()
    sample()
    return { result, peakMb: Math.round(peak) }
  } finally {
    clearInterval(timer)
  }
}
