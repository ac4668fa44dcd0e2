import { Kind, Type, TypeGuard, type TObject, type TProperties, type TSchema } from '@sinclair/typebox'
import { FORM_BOOLEANS, FORM_TRUE } from '../lib/vocabulary.js'
import { Upload } from '../media/image.js'

/** Where the validator found a value: the object holding it, and its key there. */
interface ValueSite {
  parentData: object
  parentDataProperty: string | number
}

// What the validator has always turned into null for a JSON file field: it removes the file too.
const REMOVALS = new Set<unknown>(['', 0, false])

/** What a file field takes: only an upload, or an upload or a removal. */
type UploadRule = 'file' | 'file-or-null'

/**
 * The validator's `upload` keyword: a file field holds an upload (only a form can send
 * one) or, where the rule allows it, `null` (remove the file; an empty file input in a form
 * means the same).
 */
export const uploadKeyword: {
  keyword: string
  schemaType: 'string'
  modifying: boolean
  validate: (rule: UploadRule, value: unknown, parentSchema?: unknown, site?: ValueSite) => boolean
  error: { message: (context: { schema: unknown }) => string }
} = {
  keyword: 'upload',
  schemaType: 'string',
  modifying: true,
  validate: (rule, value, _parentSchema, site) => {
    if (value instanceof Upload) return true
    if (rule === 'file') return false
    if (value === null) return true
    if (!REMOVALS.has(value) || !site) return false
    Reflect.set(site.parentData, site.parentDataProperty, null)
    return true
  },
  error: {
    message: ({ schema }) => (schema === 'file' ? 'must be a file upload (send multipart/form-data)' : 'must be a file upload, or empty (null in JSON) to remove it')
  }
}

/** A write body's file field: an upload from a form, or `null` to remove the file. */
export const FileField = (description: string) =>
  Type.Optional(Type.Unsafe<Upload | null>({ upload: 'file-or-null', description: `${description}. An empty value removes it.` }))

/** A file the write cannot do without: such a body can only be a form. */
export const RequiredFile = (description: string) => Type.Unsafe<Upload>({ upload: 'file', description })

const isFileField = (schema: TSchema) => typeof schema.upload === 'string'
const isBooleanField = (schema: TSchema) => schema[Kind] === 'Boolean'

/**
 * One write body, whatever carries it: the fields and the file fields. The multipart
 * hook turns a form into this very shape (see `fromForm`), so the one schema validates
 * forms and JSON alike, and `Static<>` of it is the handler's type.
 */
export const writeBody = <P extends TProperties, F extends TProperties>(fields: TObject<P>, files: F, title: string) =>
  Type.Object({ ...fields.properties, ...files }, { title, additionalProperties: false })

/** The names of a write body's file fields (none for a body that takes no file). */
export function fileFieldsOf(schema: TObject): string[] {
  return Object.entries<TSchema>(schema.properties).flatMap(([name, field]) => (isFileField(field) ? [name] : []))
}


/**
 * A form's text value in the type the body's field holds: booleans sent the way HTML forms,
 * curl `-F` and Postman send them, an empty file field becomes `null`. The rest, and any
 * other word for a boolean, is the schema's to check, with every other field's problems.
 */
export function fromForm(schema: TObject, name: string, text: string): unknown {
  const field: TSchema | undefined = schema.properties[name]
  if (field && isFileField(field) && text === '') return null
  if (field && isBooleanField(field) && FORM_BOOLEANS.includes(text)) return FORM_TRUE.includes(text)
  return text
}

function keepOptional(original: TSchema, replacement: TSchema): TSchema {
  return TypeGuard.IsOptional(original) ? Type.Optional(replacement) : replacement
}

/** A field the way the document shows it: its `documentedAs` form where it has one. */
export function documentedField(field: TSchema): TSchema {
  const shown: unknown = field.documentedAs
  return typeof shown === 'object' && shown !== null ? keepOptional(field, Type.Unsafe(shown)) : field
}

// A JSON file field can only remove the file: `null`, or an empty string as a form sends it.
// Written as a nullable empty string, since generated clients cannot send a null-only field.
const removal = (name: string) =>
  Type.Optional(Type.Unsafe<string | null>({ type: 'string', maxLength: 0, nullable: true, description: `null (or "") removes the ${name}; upload files with multipart/form-data` }))

/**
 * How the OpenAPI document shows a write body: `multipart/form-data` first (Postman builds
 * its request from it) with files shown in binary strings and booleans in form text, then
 * `application/json`, where a file field can only remove the file. Both come from the one
 * schema. A body with a required file is a form only.
 */
export function documentedBody(schema: TObject) {
  const form: TProperties = {}
  const json: TProperties = {}
  for (const [name, field] of Object.entries<TSchema>(schema.properties)) {
    if (isFileField(field)) {
      form[name] = keepOptional(field, Type.String({ format: 'binary', description: field.description }))
      json[name] = removal(name)
    } else {
      const { documentedAs: _json, ...text } = field
      form[name] = isBooleanField(field) ? keepOptional(field, Type.String({ enum: FORM_BOOLEANS, description: `${field.description ?? 'A boolean'} (true/false, 1/0 or on/off)` })) : text
      json[name] = documentedField(field)
    }
  }
  const title = String(schema.title)
  const formOnly = fileFieldsOf(schema).some((name) => schema.required?.includes(name))
  const content = { 'multipart/form-data': { schema: Type.Object(form, { title: formOnly ? title : `${title}Form`, additionalProperties: false }) } }
  return { content: formOnly ? content : { ...content, 'application/json': { schema: Type.Object(json, { title, additionalProperties: false }) } } }
}
