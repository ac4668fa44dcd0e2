import { Type } from '@sinclair/typebox'

/** How a user appears inside another resource: an author, a creator. */
export const UserRef = Type.Object({ id: Type.Integer(), username: Type.String() }, { title: 'UserRef' })

export const userRef = (id: number, username: string) => ({ id, username })
