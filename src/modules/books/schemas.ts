import { Type, type Static } from '@sinclair/typebox'
import { FileField, RequiredFile, writeBody } from '../../plugins/forms.js'
import { Ordering, Page, PageQuery } from '../shared/pagination.js'
import { UserRef } from '../shared/user-ref.js'
import { Review } from '../reviews/schemas.js'
import { NullableUrl } from '../shared/nullable.js'
import { NullableImageInfo } from '../shared/image-info.js'
import { BookId } from '../shared/ids.js'

const PRICE_PATTERN = '^(0|[1-9][0-9]{0,3})(\\.[0-9]{1,2})?$'
const PRICE_RULE = 'A decimal from 0 to 9999.99 with at most 2 decimal places'

// A JSON number arrives here in text form too (the validator coerces it), so one pattern
// checks both forms exactly, with no float rounding on the way to the database. The
// document tells JSON clients both types they may send.
const Price = Type.String({
  pattern: PRICE_PATTERN,
  'x-error-code': 'not_a_decimal',
  description: `${PRICE_RULE}, as a JSON number or string`,
  example: '69.00',
  documentedAs: {
    oneOf: [
      { type: 'string', pattern: PRICE_PATTERN, example: '69.00' },
      { type: 'number', minimum: 0, maximum: 9999.99, example: 69 }
    ],
    description: `${PRICE_RULE}, as a number or a string (answered as a string with two decimals)`,
    example: '69.00'
  }
})

const BookFields = Type.Object({
  title: Type.String({ minLength: 1, maxLength: 200, example: 'Dune' }),
  author: Type.String({ minLength: 1, maxLength: 200, description: "The book's author (not the user who adds it)", example: 'Frank Herbert' }),
  price: Price
})

const COVER = 'Cover image: JPEG, PNG, WebP, GIF or AVIF'
const coverFile = { cover: FileField(COVER) }

/** POST and PUT: every field required (the cover is kept unless sent). */
export const BookWrite = writeBody(BookFields, coverFile, 'BookWrite')
/** PATCH: only what is sent changes. */
export const BookPatch = writeBody(Type.Partial(BookFields), coverFile, 'BookPatch')
/** PUT .../cover: the image alone, in a form. */
export const BookCover = writeBody(Type.Object({}), { cover: RequiredFile(COVER) }, 'BookCover')
export type BookWrite = Static<typeof BookWrite>
export type BookPatch = Static<typeof BookPatch>


const bookListProperties = {
  id: Type.String({ format: 'uuid' }),
  title: Type.String(),
  author: Type.String(),
  price: Type.String({ description: 'Two decimals, always a string', example: '69.00' }),
  cover: NullableUrl('Absolute URL of the cover, or null'),
  cover_info: NullableImageInfo,
  creator: UserRef,
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' })
}

export const BookList = Type.Object(bookListProperties, { title: 'BookList', description: 'A book the way lists show it' })
export type BookList = Static<typeof BookList>

export const BookDetail = Type.Object(
  {
    ...bookListProperties,
    review_count: Type.Integer(),
    reviews: Type.Array(Review, { description: 'The 10 newest reviews' })
  },
  { title: 'BookDetail', description: 'A book with its newest reviews' }
)
export type BookDetail = Static<typeof BookDetail>

export const BookPage = Page(BookList, 'BookPage')


export const BookListQuery = Type.Object(
  {
    ...PageQuery,
    ordering: Ordering(['title', '-title', 'price', '-price', 'created_at', '-created_at']),
    creator: Type.Optional(Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1, description: 'Only the books of this user id' }))
  }
)
export type BookListQuery = Static<typeof BookListQuery>

export const BookIdParams = Type.Object({ id: BookId })
