import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import fastifyMultipart, { type MultipartFile, type MultipartValue } from '@fastify/multipart'
import { TypeGuard, type TObject } from '@sinclair/typebox'
import { AppError } from '../errors/app-error.js'
import { errorCode, errorStatus } from '../errors/guards.js'
import { fileTooLarge, readLimited, Upload } from '../media/image.js'
import { fileFieldsOf, fromForm } from './forms.js'

export interface MultipartOptions {
  maxFileBytes: number
  /** What the bodies of uploads read at once may hold together. */
  memoryBudgetBytes: number
  uploadsPerAddress: number
  /** Hears of each upload refused before its body is read. */
  onRefused?: (reason: 'memory_budget' | 'per_address') => void
}

interface Admission {
  /**
   * Reserves `bytes` of the budget for one upload from `address`, before its body is read;
   * the returned function gives them back (calling it again does nothing). Throws 503
   * `SERVER_BUSY` when the budget is spent and 429 `TOO_MANY_UPLOADS` when the address
   * already has its share of uploads in progress.
   */
  admit(address: string, bytes: number): () => void
}

const RETRY_AFTER_SECONDS = '2'

/**
 * Upload bodies are read into memory, so how many are read at once is decided by the bytes
 * they may hold, not by luck: an upload that does not fit is refused at once, unread.
 */
function createAdmission(budgetBytes: number, perAddress: number, onRefused: MultipartOptions['onRefused']): Admission {
  let used = 0
  const uploadsByAddress = new Map<string, number>()
  return {
    admit(address, bytes) {
      const uploads = uploadsByAddress.get(address) ?? 0
      if (uploads >= perAddress) {
        onRefused?.('per_address')
        throw new AppError('TOO_MANY_UPLOADS', `At most ${perAddress} uploads per client may be in progress at once`, { 'Retry-After': RETRY_AFTER_SECONDS })
      }
      // One upload larger than the whole budget still passes, alone.
      const cost = Math.min(bytes, budgetBytes)
      if (used + cost > budgetBytes) {
        onRefused?.('memory_budget')
        throw new AppError('SERVER_BUSY', 'Too many uploads are in progress, try again shortly', { 'Retry-After': RETRY_AFTER_SECONDS })
      }
      used += cost
      uploadsByAddress.set(address, uploads + 1)
      let released = false
      return () => {
        if (released) return
        released = true
        used -= cost
        const left = (uploadsByAddress.get(address) ?? 1) - 1
        if (left === 0) uploadsByAddress.delete(address)
        else uploadsByAddress.set(address, left)
      }
    }
  }
}

// Text fields are bounded like a JSON body, all together; a form has no reason for more parts than this.
const TEXT_BYTES = 1024 * 1024
const FORM_LIMITS = { fieldNameSize: 100, fieldSize: TEXT_BYTES, fields: 30, parts: 40, headerPairs: 100 }
// Boundaries and part headers around the file and the text.
const FRAMING_BYTES = 64 * 1024

async function multipartPlugin(app: FastifyInstance, options: MultipartOptions) {
  await app.register(fastifyMultipart, {
    // One byte over the limit is how the limit is noticed; the reader answers 413 then.
    limits: { ...FORM_LIMITS, fileSize: options.maxFileBytes + 1 },
    throwFileSizeLimit: true
  })
  const admission = createAdmission(options.memoryBudgetBytes, options.uploadsPerAddress, options.onRefused)
  const maxBodyBytes = options.maxFileBytes + TEXT_BYTES + FRAMING_BYTES

  // A client that asks before sending its body (`Expect: 100-continue`, like curl does for
  // files over 1 MB) is told to go on at once, unless the body is a form: a form gets the
  // go-ahead only once its upload is admitted, so a refusal costs the client no upload.
  // Node closes the connection after an answer sent without it.
  app.server.on('checkContinue', (request: IncomingMessage, response: ServerResponse) => {
    if (!isForm(request.headers['content-type'])) response.writeContinue()
    app.server.emit('request', request, response)
  })

  /**
   * A route whose body has file fields (see `writeBody`) also takes `multipart/form-data`:
   * after the route's own checks (who may write), the form is read into the very shape of
   * the JSON body, files becoming uploads, and validated by the same schema.
   */
  app.addHook('onRoute', (route: RouteOptions) => {
    const body = route.schema?.body
    if (!TypeGuard.IsObject(body)) return
    const fileFields = fileFieldsOf(body)
    const own = route.preValidation === undefined ? [] : [route.preValidation].flat()
    if (fileFields.length === 0) {
      route.preValidation = [...own, refuseForm]
      return
    }
    route.preValidation = [...own, async (request: FastifyRequest, reply: FastifyReply) => readBody(request, reply, body, fileFields)]
  })

  // A form sent where only JSON is read would fail as "body must be object": say what to send.
  function refuseForm(request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) {
    done(request.isMultipart() ? new AppError('UNSUPPORTED_MEDIA_TYPE', 'This route takes application/json, not multipart/form-data: send the fields as a JSON object') : undefined)
  }

  async function readBody(request: FastifyRequest, reply: FastifyReply, schema: TObject, fileFields: string[]) {
    if (!request.isMultipart()) {
      // Without a Content-Type there is no schema to validate against: refuse instead of guessing.
      if (request.body === undefined || request.body === null) throw new AppError('VALIDATION_ERROR', 'body must be a JSON object or a multipart/form-data form')
      return
    }
    // The body is still unread: a form that can never pass, or cannot fit in the budget
    // now, is refused unread.
    const declared = declaredLength(request)
    if (declared !== undefined && declared > maxBodyBytes) {
      throw new AppError('BODY_TOO_LARGE', `The form is larger than ${maxBodyBytes} bytes: files may have ${options.maxFileBytes} bytes, text fields ${TEXT_BYTES} together`)
    }
    const bodyBytes = declared ?? maxBodyBytes
    reply.raw.once('close', admission.admit(request.ip, bodyBytes))
    if (/100-continue/i.test(request.headers.expect ?? '')) reply.raw.writeContinue()
    try {
      request.body = await readForm(request, { schema, fileFields, maxFileBytes: options.maxFileBytes, sizeHint: bodyBytes })
    } catch (error) {
      throw asFormError(error, options.maxFileBytes)
    }
  }
}

const isForm = (contentType: string | undefined) => /^\s*multipart\/form-data/i.test(contentType ?? '')

function declaredLength(request: FastifyRequest): number | undefined {
  const length = Number(request.headers['content-length'])
  return Number.isSafeInteger(length) && length >= 0 ? length : undefined
}

interface FormShape {
  schema: TObject
  fileFields: string[]
  maxFileBytes: number
  /** What the whole body may hold: a file's buffer is sized from it. */
  sizeHint: number
}

async function readForm(request: FastifyRequest, shape: FormShape) {
  const body: Record<string, unknown> = {}
  let textBytes = 0
  for await (const part of request.parts({ limits: { files: shape.fileFields.length + 1 } })) {
    if (part.fieldname in body) {
      discard(part)
      throw new AppError('DUPLICATE_FIELD', `The field "${part.fieldname}" is sent more than once`)
    }
    if (part.type === 'file') {
      body[part.fieldname] = await acceptFile(part, shape)
      continue
    }
    body[part.fieldname] = fromForm(shape.schema, part.fieldname, acceptValue(part))
    textBytes += Buffer.byteLength(String(part.value))
    if (textBytes > TEXT_BYTES) throw textTooLarge()
  }
  return body
}

async function acceptFile(part: MultipartFile, shape: FormShape): Promise<Upload | null> {
  if (!shape.fileFields.includes(part.fieldname)) {
    discard(part)
    throw new AppError('UNKNOWN_FILE_FIELD', `Unexpected file field "${part.fieldname}"; files are accepted in: ${shape.fileFields.join(', ')}`)
  }
  const bytes = await readLimited(part.file, shape.maxFileBytes, shape.sizeHint)
  // A form that leaves a file input empty sends an unnamed, empty part: that means "no file".
  return bytes.length === 0 && part.filename === '' ? null : new Upload(bytes, part.filename)
}

function acceptValue(part: MultipartValue): string {
  if (part.valueTruncated || part.fieldnameTruncated) {
    throw new AppError('FIELD_TOO_LARGE', `The field "${part.fieldname}" is longer than ${FORM_LIMITS.fieldSize} bytes`)
  }
  return String(part.value)
}

const textTooLarge = () => new AppError('FIELD_TOO_LARGE', `The text fields are longer than ${TEXT_BYTES} bytes together`)

/** Lets the rest of a refused file stream by, so the request can still be answered. */
function discard(part: MultipartFile | MultipartValue) {
  if (part.type === 'file') part.file.resume()
}

function asFormError(error: unknown, maxFileBytes: number): Error {
  if (error instanceof AppError) return error
  if (errorCode(error) === 'FST_REQ_FILE_TOO_LARGE') return fileTooLarge(maxFileBytes)
  if (errorStatus(error) === 413) return new AppError('TOO_MANY_PARTS', `The form has too many parts (at most ${FORM_LIMITS.parts}, ${FORM_LIMITS.fields} text fields)`)
  return new AppError('INVALID_MULTIPART', `The multipart body is malformed: ${error instanceof Error ? error.message : 'unreadable'}`)
}

export default fp(multipartPlugin, { name: 'multipart', fastify: '5.x' })
