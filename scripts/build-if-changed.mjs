// Compiles dist/ only when a source is newer than the last build, so a second `npm start`
// or `npm run <command>` begins at once instead of waiting for the compiler.
import { execFileSync } from 'node:child_process'
import process from 'node:process'
import { readdirSync, statSync, utimesSync } from 'node:fs'
import { join } from 'node:path'

// Written by the incremental compiler (tsconfig.build.json) beside its output.
const STAMP = 'dist/.tsbuildinfo'
const INPUTS = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json']

/** The newest modification below `path`; a folder's own time changes when a file in it is added or removed. */
function newest(path) {
  const stats = statSync(path)
  if (!stats.isDirectory()) return stats.mtimeMs
  return Math.max(stats.mtimeMs, ...readdirSync(path).map((name) => newest(join(path, name))))
}

function builtAt() {
  try {
    return statSync(STAMP).mtimeMs
  } catch {
    return 0
  }
}

const built = builtAt()
if (built === 0 || INPUTS.some((input) => newest(input) > built)) {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' })
  // The compiler leaves its record alone when nothing it emits changed: mark this build anyway.
  const now = new Date()
  utimesSync(STAMP, now, now)
}
