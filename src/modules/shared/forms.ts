import { Kind, Type, TypeGuard, type TObject, type TProperties, type TSchema } from '@sinclair/typebox'
import { AppError } from '../../errors/app-error.js'

const FORM_BOOLEANS = ['true', 'false', '1', '0', 'on', 'off']

/** How a boolean arrives from an HTML form, curl `-F` or Postman. */
const FormBoolean = (schema: TSchema) =>
  Type.String({ enum: FORM_BOOLEANS, description: `${schema.description ?? 'A boolean'} (true/false, 1/0 or on/off)` })

const FileField = (description: string) => Type.String({ format: 'binary', description })

function keepOptional(original: TSchema, replacement: TSchema): TSchema {
  return TypeGuard.IsOptional(original) ? Type.Optional(replacement) : replacement
}

/**
 * One write schema, two bodies: `multipart/form-data` (listed first, so Postman builds
 * its request from it) with files as binary strings, and `application/json`, where a
 * file field can only be `null` (remove the image). Forms carry booleans as text.
 */
export function writeBody<P extends TProperties>(fields: TObject<P>, files: Record<string, string>, title: string) {
  const form: TProperties = {}
  const json: TProperties = { ...fields.properties }
  for (const [name, schema] of Object.entries(fields.properties)) {
    form[name] = schema[Kind] === 'Boolean' ? keepOptional(schema, FormBoolean(schema)) : schema
  }
  for (const [name, description] of Object.entries(files)) {
    form[name] = Type.Optional(FileField(`${description}. An empty value removes it.`))
    json[name] = Type.Optional(Type.Null({ description: `null removes the ${name}; upload files with multipart/form-data` }))
  }
  return {
    content: {
      'multipart/form-data': { schema: Type.Object(form, { title: `${title}Form`, additionalProperties: false }) },
      'application/json': { schema: Type.Object(json, { title, additionalProperties: false }) }
    }
  }
}

/** A form boolean or a JSON boolean, as a boolean. */
export function toBoolean(value: boolean | string): boolean {
  return typeof value === 'boolean' ? value : value === 'true' || value === '1' || value === 'on'
}

/**
 * What a write says about a file field: `undefined` leaves it alone, `null` removes it,
 * bytes replace it. In a form the field's text value may only be empty (remove).
 */
export function fileChange(name: string, textValue: unknown, upload: Buffer | undefined): Buffer | null | undefined {
  if (upload) return upload
  if (textValue === undefined) return undefined
  if (textValue === null || textValue === '') return null
  throw new AppError('VALIDATION_ERROR', `body/${name} must be a file upload (or empty to remove it)`)
}
