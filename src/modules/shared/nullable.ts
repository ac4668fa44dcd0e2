import { Type, type TUnsafe } from '@sinclair/typebox'

/**
 * An absolute URL or null, written the OpenAPI 3.0 way (`nullable: true`) rather than as
 * `anyOf [string, null]`: the response serializer then writes it directly, where a union
 * would make it run the validator (and its long URI regular expression) on every value.
 */
export function NullableUrl(description: string): TUnsafe<string | null> {
  return Type.Unsafe<string | null>({ ...Type.String({ format: 'uri' }), nullable: true, description })
}
