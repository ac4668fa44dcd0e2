import { createHash } from 'node:crypto'

/** A file a client sent (in a form): a write's body carries it where JSON would carry `null`. */
export class Upload {
  constructor(
    readonly bytes: Buffer,
    readonly filename: string
  ) {}

  /** In a body's JSON (an Idempotency-Key's fingerprint, a log), a file is its digest. */
  toJSON() {
    return { file: this.filename, sha256: createHash('sha256').update(this.bytes).digest('hex') }
  }
}

/** What a write does to one file field: replace it (an upload), remove it (null) or keep it (undefined). */
export interface FileChange {
  upload: Upload | null | undefined
  /** The key folder of a new object: `post_images`, `covers`. */
  folder: string
}
