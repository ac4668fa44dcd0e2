import { eq, sql } from 'drizzle-orm'
import type { Db } from '../../db/client.js'
import { users, type UserRow } from '../../db/schema.js'
import { violatedConstraint } from '../../db/errors.js'
import { AppError } from '../../errors/app-error.js'
import { hashPassword } from './passwords.js'

export interface NewUser {
  username: string
  email: string
  password: string
  isAdmin?: boolean
}

/** Usernames compare in NFKC form, so look-alike spellings cannot register twice. */
export const normalizeUsername = (username: string) => username.normalize('NFKC')

export async function createUser(db: Db, input: NewUser): Promise<UserRow> {
  return insertUser(db, { ...input, passwordHash: await hashPassword(input.password) })
}

/** The insert alone, for callers that hash first (outside their transaction: the hash is slow). */
export async function insertUser(db: Db, input: Omit<NewUser, 'password'> & { passwordHash: string }): Promise<UserRow> {
  const { passwordHash } = input
  try {
    const [row] = await db
      .insert(users)
      .values({ username: normalizeUsername(input.username), email: input.email, passwordHash, isAdmin: input.isAdmin ?? false })
      .returning()
    return row!
  } catch (error) {
    if (violatedConstraint(error) === 'users_username_lower_key') {
      throw new AppError('USERNAME_TAKEN')
    }
    throw error
  }
}

export async function findUserByUsername(db: Db, username: string): Promise<UserRow | undefined> {
  const [row] = await db
    .select()
    .from(users)
    // Both sides through the database's lower(), the same function the unique index uses.
    .where(sql`lower(${users.username}) = lower(${normalizeUsername(username)})`)
  return row
}

export async function promoteToAdmin(db: Db, id: number): Promise<UserRow> {
  const [row] = await db.update(users).set({ isAdmin: true }).where(eq(users.id, id)).returning()
  return row!
}

/** The rate-limit key of a name no user has: the name the way the database's lower() sees it. */
export async function loginKey(db: Db, username: string): Promise<string> {
  const [row] = await db.select({ lowered: sql<string>`lower(${normalizeUsername(username)})` }).from(sql`(values (1)) one`)
  return `login:name:${row!.lowered}`
}

export async function setPasswordHash(db: Db, id: number, passwordHash: string): Promise<void> {
  await db.update(users).set({ passwordHash }).where(eq(users.id, id))
}
