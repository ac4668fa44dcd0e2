import sharp from 'sharp'

/** A photo-like JPEG: deterministic noise over gradients, so it compresses like a real photo. */
export async function photo(width: number, height: number, quality: number): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3)
  let seed = 12345
  for (let i = 0; i < raw.length; i += 3) {
    seed = (seed * 1103515245 + 12345) >>> 0
    const x = (i / 3) % width
    const noise = seed >>> 26
    raw[i] = ((x * 255) / width + noise) & 0xff
    raw[i + 1] = ((i / 3 / width) * 255 / height + noise) & 0xff
    raw[i + 2] = (noise * 4) & 0xff
  }
  return sharp(raw, { raw: { width, height, channels: 3 } }).jpeg({ quality }).toBuffer()
}

/** A multipart body with fixed bytes, so the load generator can send it again and again. */
export function multipartBody(fields: Record<string, string>, file: { name: string; bytes: Buffer; filename: string }) {
  const boundary = '----bench-boundary-7d3a9c'
  const parts: Buffer[] = Object.entries(fields).map(([name, value]) => Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`))
  parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${file.name}"; filename="${file.filename}"\r\nContent-Type: image/jpeg\r\n\r\n`))
  parts.push(file.bytes, Buffer.from(`\r\n--${boundary}--\r\n`))
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` }
}
