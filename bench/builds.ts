import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { root } from './processes.js'

export interface Build {
  /** What the tables call it: `this` or the git ref it was built from. */
  label: string
  dir: string
  remove(): void
}

const run = (command: string, args: string[], cwd: string) => execFileSync(command, args, { cwd, stdio: ['ignore', 'ignore', 'inherit'] })

/**
 * Builds another commit beside this one: a detached work tree in a temporary folder, its
 * dependencies (this tree's, linked, when the lockfiles match; else a clean install), and
 * its `dist/`. `remove()` deletes the work tree.
 */
export function buildRef(ref: string): Build {
  const dir = mkdtempSync(join(tmpdir(), 'bench-compare-'))
  run('git', ['worktree', 'add', '--detach', '--force', dir, ref], root)
  const remove = () => {
    rmSync(dir, { recursive: true, force: true })
    run('git', ['worktree', 'prune'], root)
  }
  try {
    const sameLock = existsSync(join(dir, 'package-lock.json')) && readFileSync(join(dir, 'package-lock.json'), 'utf8') === readFileSync(join(root, 'package-lock.json'), 'utf8')
    if (sameLock) symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir')
    else run('npm', ['ci', '--no-audit', '--no-fund'], dir)
    run(process.execPath, [join(dir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], dir)
  } catch (error) {
    remove()
    throw error
  }
  return { label: ref, dir, remove }
}

export const thisBuild: Build = { label: 'this', dir: root, remove: () => {} }
