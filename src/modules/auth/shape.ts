import type { UserRow } from '../../db/schema.js'
import type { User } from './schemas.js'

/** A user the way the API answers it: never a password hash. */
export const userShape = (row: Omit<UserRow, 'passwordHash'>): User => ({
  id: row.id,
  username: row.username,
  email: row.email,
  is_admin: row.isAdmin,
  created_at: row.createdAt.toISOString()
})
