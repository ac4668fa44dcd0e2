import { Type, type Static } from '@sinclair/typebox'

const Username = Type.String({
  minLength: 3,
  maxLength: 150,
  format: 'username',
  description: '3-150 letters (of any script), digits and the characters @ . + - _; unique ignoring case',
  example: 'alice'
})
const Password = Type.String({ minLength: 8, maxLength: 1024, description: '8-1024 characters', example: 'correct horse battery' })

export const RegisterBody = Type.Object(
  {
    username: Username,
    email: Type.String({ format: 'email', maxLength: 254, example: 'alice@example.com' }),
    password: Password
  },
  { title: 'Register', additionalProperties: false }
)
export type RegisterBody = Static<typeof RegisterBody>

export const LoginBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 150, example: 'alice' }),
    password: Type.String({ minLength: 1, maxLength: 1024, example: 'correct horse battery' })
  },
  { title: 'Login', additionalProperties: false }
)
export type LoginBody = Static<typeof LoginBody>

export const User = Type.Object(
  {
    id: Type.Integer({ example: 1 }),
    username: Type.String({ example: 'alice' }),
    email: Type.String({ example: 'alice@example.com' }),
    is_admin: Type.Boolean(),
    created_at: Type.String({ format: 'date-time' })
  },
  { $id: 'User', title: 'User', description: 'A user account (never its password)' }
)
export type User = Static<typeof User>

export const Token = Type.Object(
  {
    access_token: Type.String({ description: 'HS256 JWT to send in `Authorization: Bearer <token>`' }),
    token_type: Type.Literal('Bearer'),
    expires_in: Type.Integer({ description: 'Lifetime of the access token in seconds (`JWT_EXPIRES_IN`)', example: 900 }),
    refresh_token: Type.String({ description: 'Opaque; trade it for new tokens at `POST /api/v1/auth/refresh` before or after the access token expires. Each one works once: keep the one each refresh answers', example: 'Jq3n1t0YqL6mO0tq4nQ3v9pZ7yWcX1bE2rK8sD5uA0g' }),
    refresh_expires_in: Type.Integer({ description: 'Seconds the session lasts without a refresh (`REFRESH_EXPIRES_IN`); each refresh starts it again', example: 2592000 })
  },
  { $id: 'Token', title: 'Token', description: 'The tokens of a session: a short-lived access token and the refresh token that renews it' }
)
export type Token = Static<typeof Token>

export const RefreshBody = Type.Object(
  { refresh_token: Type.String({ minLength: 1, maxLength: 200, description: 'The refresh token of the last login or refresh' }) },
  { title: 'Refresh', additionalProperties: false }
)
export type RefreshBody = Static<typeof RefreshBody>

export const PasswordChangeBody = Type.Object(
  {
    current_password: Type.String({ minLength: 1, maxLength: 1024, example: 'correct horse battery' }),
    new_password: Password
  },
  { title: 'PasswordChange', additionalProperties: false }
)
export type PasswordChangeBody = Static<typeof PasswordChangeBody>
