import { randomBytes } from 'node:crypto'

export interface Part {
  name: string
  value?: string
  file?: Buffer
  filename?: string
  contentType?: string
}

/** A raw multipart/form-data body, built by hand so tests control every byte (and can break it). */
export function multipart(parts: Part[]): { payload: Buffer; headers: Record<string, string> } {
  const boundary = `----test${randomBytes(8).toString('hex')}`
  const chunks: Buffer[] = []
  for (const part of parts) {
    const disposition =
      part.file === undefined
        ? `form-data; name="${part.name}"`
        : `form-data; name="${part.name}"; filename="${part.filename ?? 'upload.bin'}"`
    const type = part.file === undefined ? '' : `Content-Type: ${part.contentType ?? 'application/octet-stream'}\r\n`
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${type}\r\n`))
    chunks.push(part.file ?? Buffer.from(part.value ?? ''))
    chunks.push(Buffer.from('\r\n'))
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`))
  return { payload: Buffer.concat(chunks), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } }
}
