import { Type, type Static } from '@sinclair/typebox'
import type { StoredImageInfo } from '../../db/schema.js'
import type { Media } from '../../plugins/media.js'

export const ImageVariant = Type.Object(
  {
    url: Type.String({ format: 'uri', description: 'Absolute URL of this size' }),
    width: Type.Integer({ example: 640 }),
    height: Type.Integer({ example: 480 }),
    content_type: Type.String({ example: 'image/webp' })
  },
  { title: 'ImageVariant', description: 'A resized copy of the image, with the aspect ratio of the original and no metadata' }
)

const ImageInfoObject = Type.Object(
  {
    width: Type.Integer({ description: 'Width of the stored original, upright', example: 4000 }),
    height: Type.Integer({ description: 'Height of the stored original, upright', example: 3000 }),
    content_type: Type.String({ description: 'Type of the original', example: 'image/jpeg' }),
    bytes: Type.Integer({ description: 'Size of the original in bytes', example: 1830211 }),
    color: Type.String({ pattern: '^#[0-9a-f]{6}$', description: 'The dominant colour, for a background while the image loads', example: '#6b7f92' }),
    placeholder: Type.String({ description: 'A blurred image of at most 32 px on its longest side, as a data URL of at most 600 characters, to show until the image loads' }),
    variants: Type.Array(ImageVariant, { description: 'Smaller copies, ascending by width; only widths narrower than the original, none for animated images' }),
    srcset: Type.String({ description: 'Every variant and the original, ready for `<img srcset>`', example: 'https://cdn.example.com/media/covers/3f0c...-320w.webp 320w, https://cdn.example.com/media/covers/3f0c....jpg 4000w' })
  },
  {
    title: 'ImageInfo',
    description: 'What a frontend needs to show the image well: its size (to reserve the space), a colour and a placeholder while it loads, and smaller copies. Null with no image, and for images stored before the service recorded it.'
  }
)
export type ImageInfo = Static<typeof ImageInfoObject>

/** An image's info, or null: written the OpenAPI 3.0 way, `nullable: true`. */
export const NullableImageInfo = Type.Unsafe<ImageInfo | null>({ ...ImageInfoObject, nullable: true })

/** The answer's info of a stored image (null without an image, or without its info). */
export function imageInfoShape(mediaUrl: Media['url']) {
  return (name: string | null, info: StoredImageInfo | null): ImageInfo | null => {
    if (name === null || info === null) return null
    const variants = info.variants.map((variant) => ({ url: mediaUrl(variant.name), width: variant.width, height: variant.height, content_type: variant.contentType }))
    const srcset = [...variants.map((variant) => `${variant.url} ${variant.width}w`), `${mediaUrl(name)} ${info.width}w`].join(', ')
    return { width: info.width, height: info.height, content_type: info.contentType, bytes: info.bytes, color: info.color, placeholder: info.placeholder, variants, srcset }
  }
}
