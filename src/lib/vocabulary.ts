/**
 * What the service's schemas say beyond standard JSON Schema, for every validator that
 * reads them (the HTTP routes' and the command line's).
 */

/**
 * Documentation only: the validators accept these keywords and ignore them. `documentedAs`
 * is how the document shows a field that the validator reads in another form (a JSON
 * number read as text, an integer id read as text so that a malformed one is a 404).
 * `x-error-code` names the `code` of a field's error entry when it fails its pattern.
 */
export const ANNOTATIONS = ['example', 'documentedAs', 'x-error-code']

/**
 * Rules a portable regular expression cannot state: Unicode classes such as `\p{L}` do not
 * compile in many validators and client generators, so the document names a format and
 * describes it in words, and the rule itself lives here.
 */
export const FORMATS = {
  username: /^[\p{L}\p{N}@.+_-]+$/u
}

/** A UUID in its text form, any case: book ids, session ids. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** How HTML forms, curl `-F` and Postman write a boolean: the words a form field may hold. */
export const FORM_BOOLEANS = ['true', 'false', '1', '0', 'on', 'off']
export const FORM_TRUE = ['true', '1', 'on']
