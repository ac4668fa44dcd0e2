/** Type guards for what caught errors carry: narrowing, not casts. */

/** The `code` an error carries (a SQLSTATE, an errno name, a framework's code), if any. */
export function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined
}

/** The HTTP status an error of the framework or one of its plugins carries, if any. */
export function errorStatus(error: unknown): number | undefined {
  return typeof error === 'object' && error !== null && 'statusCode' in error && typeof error.statusCode === 'number' ? error.statusCode : undefined
}
