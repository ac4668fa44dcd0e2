/** What the catalogue says of one error code. */
export interface ErrorSpec {
  status: number
  /** The message when the thrower gives none. */
  message: string
  /** For the OpenAPI document: when a client gets this code, and what to do about it. */
  description: string
  /** Response headers that come with this code. */
  headers?: ResponseHeader[]
}

export type ResponseHeader = 'Retry-After' | 'WWW-Authenticate'

// A const type parameter keeps each code a literal without a cast.
const defineCatalogue = <const T extends Record<string, ErrorSpec>>(entries: T) => entries

/**
 * Every `code` the API can answer, defined once. Errors are thrown by code; the OpenAPI
 * document's error descriptions and the `code` enum of its error schema come from here.
 */
const catalogue = defineCatalogue({
  VALIDATION_ERROR: { status: 400, message: 'Invalid input', description: 'A field is missing, malformed or out of range; the message names the first problem, `errors` lists every one by field' },
  INVALID_JSON: { status: 400, message: 'The body is not valid JSON', description: 'The body is not valid JSON' },
  INVALID_MULTIPART: { status: 400, message: 'The multipart body is malformed', description: 'The multipart/form-data body cannot be read' },
  DUPLICATE_FIELD: { status: 400, message: 'A form field is sent more than once', description: 'A form field appears more than once' },
  UNKNOWN_FIELD: { status: 400, message: 'The body has a field this request does not take', description: 'The body has a field the operation does not know (a typo, or a read-only field such as `id`); the message names it' },
  UNKNOWN_FILE_FIELD: { status: 400, message: 'Unexpected file field', description: 'A file is sent in a field that takes none' },
  BAD_REQUEST: { status: 400, message: 'The request could not be parsed', description: 'The request itself is malformed (its URL, its headers)' },
  UNAUTHORIZED: { status: 401, message: 'Authentication credentials were not provided', description: 'No bearer token was sent (or it lacks its `Bearer ` prefix): log in (with `WWW-Authenticate`)', headers: ['WWW-Authenticate'] },
  TOKEN_EXPIRED: { status: 401, message: 'The access token has expired', description: 'The access token is genuine but past its `exp`: refresh it with `POST /api/v1/auth/refresh`, then retry', headers: ['WWW-Authenticate'] },
  TOKEN_INVALID: { status: 401, message: 'The token is invalid', description: 'The access token is forged, malformed or of no existing user, or the refresh token is unknown or expired: log in again', headers: ['WWW-Authenticate'] },
  SESSION_REVOKED: { status: 401, message: 'This session has ended', description: 'The session of the token was ended (logout, logout-all, a password change, a reused refresh token): log in again', headers: ['WWW-Authenticate'] },
  REFRESH_TOKEN_REUSED: { status: 401, message: 'This refresh token was already used', description: 'A refresh token was presented again after it was replaced: taken as theft, its whole session is revoked; log in again', headers: ['WWW-Authenticate'] },
  INVALID_CREDENTIALS: { status: 401, message: 'Unable to log in with the provided credentials', description: 'Wrong username or password' },
  CORS_ORIGIN_NOT_ALLOWED: { status: 403, message: 'This origin may not call the API from a browser', description: 'A browser preflight from an origin that `CORS_ORIGINS` does not allow' },
  FORBIDDEN: { status: 403, message: 'You do not have permission to perform this action', description: 'Authenticated but not allowed' },
  NOT_FOUND: { status: 404, message: 'Resource not found', description: 'No such resource (or route)' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'Method not allowed', description: 'The route does not take this method' },
  NOT_ACCEPTABLE: { status: 406, message: 'Not acceptable', description: 'No answer in a type the `Accept` header allows' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request took too long to arrive', description: 'The request, or its body, arrived too slowly; the connection is closed' },
  USERNAME_TAKEN: { status: 409, message: 'A user with that username already exists', description: 'The username is taken (ignoring case)' },
  TITLE_TAKEN: { status: 409, message: 'A post with this title already exists', description: 'Another post has this title' },
  SLUG_TAKEN: { status: 409, message: 'A post with this slug already exists', description: 'Another post has this slug' },
  IDEMPOTENCY_KEY_IN_USE: { status: 409, message: 'A request with this Idempotency-Key is still being processed; retry shortly', description: 'A request with the same `Idempotency-Key` is still running (see `Retry-After`)', headers: ['Retry-After'] },
  BODY_TOO_LARGE: { status: 413, message: 'The body is too large', description: 'The body is larger than the route accepts' },
  FILE_TOO_LARGE: { status: 413, message: 'The file is too large', description: 'An uploaded file is larger than `MEDIA_MAX_BYTES`' },
  FIELD_TOO_LARGE: { status: 413, message: 'A form field is too large', description: 'A text field of a form, or all of them together, is too long' },
  TOO_MANY_PARTS: { status: 413, message: 'The form has too many parts', description: 'The form has more parts than any write takes' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Unsupported content type', description: 'The body, or the uploaded image, is of a type the route does not take' },
  INVALID_IMAGE: { status: 422, message: 'The file is not a valid image: it is truncated or corrupt', description: 'The upload is not a decodable image' },
  IMAGE_TOO_LARGE: { status: 422, message: 'The image is too large', description: 'The image has more pixels, or a longer side, than allowed' },
  IMAGE_TOO_COMPLEX: { status: 422, message: 'The image takes too long to process', description: 'The image could not be processed within `MEDIA_PROCESS_TIMEOUT_MS`' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, message: 'This Idempotency-Key was already used for a different request; use a new key for a new request', description: 'The `Idempotency-Key` was used for a different request' },
  RATE_LIMITED: { status: 429, message: 'Too many requests', description: 'Too many requests from this client or for this account (see `Retry-After`)', headers: ['Retry-After'] },
  TOO_MANY_UPLOADS: { status: 429, message: 'Too many uploads in progress', description: 'Too many uploads in progress from this client (see `Retry-After`)', headers: ['Retry-After'] },
  INTERNAL_ERROR: { status: 500, message: 'The server failed to handle this request', description: 'The server failed; the message carries the request id' },
  DATABASE_UNAVAILABLE: { status: 503, message: 'The database is unavailable, try again later', description: 'The database does not answer (see `Retry-After`)', headers: ['Retry-After'] },
  STORAGE_UNAVAILABLE: { status: 503, message: 'The media store is unavailable, try again later', description: 'The media store does not answer (see `Retry-After`)', headers: ['Retry-After'] },
  SERVER_BUSY: { status: 503, message: 'The server is at capacity, try again shortly', description: 'Too many uploads or images in progress on this instance (see `Retry-After`)', headers: ['Retry-After'] }
})

export type ErrorCode = keyof typeof catalogue

export const isErrorCode = (code: string): code is ErrorCode => Object.hasOwn(catalogue, code)

export const errorCodes: ErrorCode[] = Object.keys(catalogue).filter(isErrorCode)

export const errorSpec = (code: ErrorCode): ErrorSpec => catalogue[code]
