import { randomUUID } from 'node:crypto'
import { mkdir, rename, rm, writeFile, access, constants } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { assertMediaName, type MediaStore } from './store.js'

export interface LocalStoreOptions {
  root: string
  prefix: string
  baseUrl: string
}

/** Files on local disk under `{root}/{prefix}/{name}`, laid out like the S3 keys. */
export function createLocalStore(options: LocalStoreOptions): MediaStore {
  const folder = localMediaFolder(options)
  const path = (name: string) => {
    assertMediaName(name)
    return join(folder, name)
  }
  return {
    kind: 'local',
    async put(name, body) {
      const target = path(name)
      await mkdir(dirname(target), { recursive: true })
      // Written aside then renamed: a reader never sees half a file.
      const partial = `${target}.${randomUUID()}.partial`
      try {
        await writeFile(partial, body, { flag: 'wx' })
        await rename(partial, target)
      } catch (error) {
        await rm(partial, { force: true })
        throw error
      }
    },
    async delete(name) {
      await rm(path(name), { force: true })
    },
    url: (name) => `${options.baseUrl}${name}`,
    async check() {
      await mkdir(folder, { recursive: true })
      await access(folder, constants.W_OK)
    }
  }
}

export function localMediaFolder(options: Pick<LocalStoreOptions, 'root' | 'prefix'>): string {
  return resolve(options.root, options.prefix)
}
