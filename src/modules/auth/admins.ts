import type { Db } from '../../db/client.js'
import type { UserRow } from '../../db/schema.js'
import { AppError } from '../../errors/app-error.js'
import { findProblem } from '../../lib/validation.js'
import { RegisterBody } from './schemas.js'
import { createUser, findUserByUsername, normalizeUsername, promoteToAdmin } from './users.js'

export interface AdminRequest {
  username: string
  email: string | undefined
  /** Asked for only when a new user is created. */
  password: () => Promise<string>
}

export type AdminOutcome = { user: UserRow; action: 'created' | 'promoted' | 'unchanged' }

/** Creates an admin, or promotes the existing user of that name (its password is left alone). */
export async function ensureAdmin(db: Db, request: AdminRequest): Promise<AdminOutcome> {
  const existing = await findUserByUsername(db, request.username)
  if (existing) {
    if (existing.isAdmin) return { user: existing, action: 'unchanged' }
    return { user: await promoteToAdmin(db, existing.id), action: 'promoted' }
  }
  if (request.email === undefined) throw new AppError('VALIDATION_ERROR', '--email is required to create a new user')
  const input = { username: normalizeUsername(request.username), email: request.email, password: await request.password() }
  const problem = findProblem(RegisterBody, input)
  if (problem) throw new AppError('VALIDATION_ERROR', problem)
  return { user: await createUser(db, { ...input, isAdmin: true }), action: 'created' }
}

