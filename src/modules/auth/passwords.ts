import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'

// scrypt with N=2^15, r=8: 32 MiB and tens of milliseconds per hash, the OWASP baseline.
const COST_LOG2 = 15
const BLOCK_SIZE = 8
const PARALLELISM = 1
const KEY_LENGTH = 32

function derive(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, options, (error, key) => (error ? reject(error) : resolve(key)))
  })
}

const optionsFor = (costLog2: number, blockSize: number, parallelism: number): ScryptOptions => ({
  N: 2 ** costLog2,
  r: blockSize,
  p: parallelism,
  maxmem: 256 * 2 ** costLog2 * blockSize
})

/** `scrypt$<log2 N>$<r>$<p>$<salt>$<key>`: the parameters travel with the hash so they can be raised later. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await derive(password, salt, optionsFor(COST_LOG2, BLOCK_SIZE, PARALLELISM))
  return ['scrypt', COST_LOG2, BLOCK_SIZE, PARALLELISM, salt.toString('base64'), key.toString('base64')].join('$')
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, costLog2, blockSize, parallelism, salt, key] = stored.split('$')
  if (scheme !== 'scrypt' || salt === undefined || key === undefined) return false
  const expected = Buffer.from(key, 'base64')
  const actual = await derive(password, Buffer.from(salt, 'base64'), optionsFor(Number(costLog2), Number(blockSize), Number(parallelism)))
  return actual.length === expected.length && timingSafeEqual(actual, expected)
}

// Checked when the username is unknown, so a failed login costs the same either way.
let decoy: Promise<string> | undefined
export function decoyHash(): Promise<string> {
  decoy ??= hashPassword(randomBytes(16).toString('hex'))
  return decoy
}
