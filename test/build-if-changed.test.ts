import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { projectRoot } from './helpers/process.js'

t.test('starts and commands compile only when a source changed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'build-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  symlinkSync(join(projectRoot, 'node_modules'), join(dir, 'node_modules'))
  mkdirSync(join(dir, 'src'))
  const config = { compilerOptions: { rootDir: 'src', outDir: 'dist', module: 'NodeNext', target: 'ES2022', incremental: true, tsBuildInfoFile: 'dist/.tsbuildinfo' }, include: ['src'] }
  writeFileSync(join(dir, 'tsconfig.json'), '{}')
  writeFileSync(join(dir, 'tsconfig.build.json'), JSON.stringify(config))
  writeFileSync(join(dir, 'package-lock.json'), '{}')
  const source = join(dir, 'src', 'a.ts')
  const output = join(dir, 'dist', 'a.js')
  const build = () => execFileSync(process.execPath, [join(projectRoot, 'scripts', 'build-if-changed.mjs')], { cwd: dir })
  // Sources written a while ago, so that "newer than the build" is told apart on any file system.
  const age = (path: string) => utimesSync(path, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000))

  writeFileSync(source, 'export const answer: number = 1\n')
  age(source)
  build()
  t.match(readFileSync(output, 'utf8'), /answer = 1/, 'a first start compiles')
  const built = statSync(output).mtimeMs

  build()
  t.equal(statSync(output).mtimeMs, built, 'nothing changed: no compile')

  writeFileSync(source, 'export const answer: number = 2\n')
  build()
  t.match(readFileSync(output, 'utf8'), /answer = 2/, 'a changed source is compiled')

  rmSync(join(dir, 'dist'), { recursive: true })
  build()
  t.match(readFileSync(output, 'utf8'), /answer = 2/, 'a deleted dist/ is built again')
})
