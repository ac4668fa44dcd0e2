import type { FastifyRequest } from 'fastify'
import { Type, type TSchema } from '@sinclair/typebox'
import { notFound } from '../../errors/app-error.js'
import { NullableUrl } from './nullable.js'

export const PageQuery = {
  page: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1, description: 'Page number, from 1' }),
  page_size: Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'Items per page, 1-100' }),
  search: Type.Optional(Type.String({ maxLength: 200, description: 'Case-insensitive text to look for; `%` and `_` match themselves; empty (an empty search box) means no search' }))
}

/** A list's `ordering` parameter: one of `values` (a leading `-` sorts descending), newest first by default. */
export const Ordering = <const T extends string>(values: T[]) =>
  Type.Unsafe<T>({ type: 'string', enum: values, default: '-created_at', description: 'Sort order' })

/** The page envelope of every list, the one Django REST Framework answers. */
export function Page<T extends TSchema>(item: T, title: string) {
  return Type.Object(
    {
      count: Type.Integer({ description: 'Items across all pages' }),
      next: NullableUrl('Absolute URL of the next page, or null'),
      previous: NullableUrl('Absolute URL of the previous page, or null'),
      results: Type.Array(item)
    },
    { title, description: `A page of ${title.replace(/Page$/, '')} items` }
  )
}

export interface PageRequest {
  page: number
  page_size: number
}

export const offsetOf = (query: PageRequest) => (query.page - 1) * query.page_size

/**
 * Wraps a page of results; `next`/`previous` are absolute and keep the other query
 * parameters. A page past the end is 404, except page 1 of an empty list.
 */
export function toPage<T>(request: FastifyRequest, publicUrl: string, query: PageRequest, count: number, results: T[]) {
  const lastPage = Math.max(1, Math.ceil(count / query.page_size))
  if (query.page > lastPage) throw notFound('Page')
  const link = (page: number) => {
    const url = new URL(request.url, `${publicUrl}/`)
    const absolute = new URL(`${publicUrl}${url.pathname}`)
    url.searchParams.forEach((value, key) => absolute.searchParams.append(key, value))
    absolute.searchParams.set('page', String(page))
    return absolute.toString()
  }
  return {
    count,
    next: query.page < lastPage ? link(query.page + 1) : null,
    previous: query.page > 1 ? link(query.page - 1) : null,
    results
  }
}

/** The text to look for: none when `search` is absent or empty, as an empty search box sends it. */
export const searchOf = (query: { search?: string }) => (query.search === '' ? undefined : query.search)

/** `search` is matched literally: LIKE's wildcards and escape character are escaped. */
export const likePattern = (search: string) => `%${search.replace(/[\\%_]/g, (char) => `\\${char}`)}%`
