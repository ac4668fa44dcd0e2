import type { FastifyInstance, FastifyRequest, preValidationAsyncHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import fastifyMultipart, { type MultipartFile, type MultipartValue } from '@fastify/multipart'
import { AppError } from '../errors.js'
import { fileTooLarge, readLimited } from '../media/image.js'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * A preValidation hook for write routes that accept `multipart/form-data`: the text
     * fields become `request.body` (validated by the route's schema like a JSON body), and
     * at most one file per named field lands in `request.uploads`.
     */
    multipartForm(fileFields: readonly string[]): preValidationAsyncHookHandler
  }
  interface FastifyRequest {
    uploads: Record<string, Buffer>
  }
}

export interface MultipartOptions {
  maxFileBytes: number
}

// Text fields are bounded like a JSON body; a form has no reason for more parts than this.
const FORM_LIMITS = { fieldNameSize: 100, fieldSize: 1024 * 1024, fields: 30, parts: 40, headerPairs: 100 }

const badForm = (code: string, message: string, status = 400) => new AppError(status, code, message)

async function multipartPlugin(app: FastifyInstance, options: MultipartOptions) {
  await app.register(fastifyMultipart, {
    // One byte over the limit is how the limit is noticed; the reader answers 413 then.
    limits: { ...FORM_LIMITS, fileSize: options.maxFileBytes + 1 },
    throwFileSizeLimit: true
  })
  app.decorateRequest('uploads', null as unknown as Record<string, Buffer>)

  app.decorate('multipartForm', (fileFields: readonly string[]) => async (request: FastifyRequest) => {
    request.uploads = {}
    if (!request.isMultipart()) {
      // Without a Content-Type there is no schema to validate against: refuse instead of guessing.
      if (request.body === undefined || request.body === null) throw badForm('VALIDATION_ERROR', 'body must be a JSON object or a multipart/form-data form')
      return
    }
    const fields: Record<string, unknown> = {}
    try {
      for await (const part of request.parts({ limits: { files: fileFields.length + 1 } })) {
        if (part.fieldname in fields || part.fieldname in request.uploads) {
          discard(part)
          throw badForm('DUPLICATE_FIELD', `The field "${part.fieldname}" is sent more than once`)
        }
        if (part.type === 'file') await acceptFile(part, fileFields, request, fields, options.maxFileBytes)
        else fields[part.fieldname] = acceptValue(part)
      }
    } catch (error) {
      throw asFormError(error, options.maxFileBytes)
    }
    request.body = fields
  })
}

async function acceptFile(part: MultipartFile, fileFields: readonly string[], request: FastifyRequest, fields: Record<string, unknown>, maxBytes: number) {
  if (!fileFields.includes(part.fieldname)) {
    discard(part)
    throw badForm('UNKNOWN_FILE_FIELD', `Unexpected file field "${part.fieldname}"; files are accepted in: ${fileFields.join(', ') || 'none'}`)
  }
  const bytes = await readLimited(part.file, maxBytes)
  // A form that leaves a file input empty sends an unnamed, empty part: that means "no file".
  if (bytes.length === 0 && part.filename === '') fields[part.fieldname] = ''
  else request.uploads[part.fieldname] = bytes
}

function acceptValue(part: MultipartValue): unknown {
  if (part.valueTruncated || part.fieldnameTruncated) {
    throw badForm('FIELD_TOO_LARGE', `The field "${part.fieldname}" is longer than ${FORM_LIMITS.fieldSize} bytes`, 413)
  }
  return part.value
}

/** Lets the rest of a refused file stream by, so the request can still be answered. */
function discard(part: MultipartFile | MultipartValue) {
  if (part.type === 'file') part.file.resume()
}

function asFormError(error: unknown, maxFileBytes: number): Error {
  if (error instanceof AppError) return error
  const { code, statusCode, message } = error as { code?: string; statusCode?: number; message?: string }
  if (code === 'FST_REQ_FILE_TOO_LARGE') return fileTooLarge(maxFileBytes)
  if (statusCode === 413) return badForm('TOO_MANY_PARTS', `The form has too many parts (at most ${FORM_LIMITS.parts}, ${FORM_LIMITS.fields} text fields)`, 413)
  return badForm('INVALID_MULTIPART', `The multipart body is malformed: ${message ?? 'unreadable'}`)
}

export default fp(multipartPlugin, { name: 'multipart', fastify: '5.x' })
