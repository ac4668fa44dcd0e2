import { AppError } from '../errors/app-error.js'

export interface Admission {
  /**
   * Reserves `bytes` of the budget for one upload from `address`, before its body is read;
   * the returned function gives them back (calling it again does nothing). Throws 503
   * `SERVER_BUSY` when the budget is spent and 429 `TOO_MANY_UPLOADS` when the address
   * already has its share of uploads in progress.
   */
  admit(address: string, bytes: number): () => void
}

const RETRY_AFTER_SECONDS = '2'

/**
 * Upload bodies are read into memory, so how many are read at once is decided by the bytes
 * they may hold, not by luck: an upload that does not fit is refused at once, unread.
 */
export function createAdmission(budgetBytes: number, perAddress: number): Admission {
  let used = 0
  const uploadsByAddress = new Map<string, number>()
  return {
    admit(address, bytes) {
      const uploads = uploadsByAddress.get(address) ?? 0
      if (uploads >= perAddress) {
        throw new AppError('TOO_MANY_UPLOADS', `At most ${perAddress} uploads per client may be in progress at once`, { 'Retry-After': RETRY_AFTER_SECONDS })
      }
      // One upload larger than the whole budget still passes, alone.
      const cost = Math.min(bytes, budgetBytes)
      if (used + cost > budgetBytes) {
        throw new AppError('SERVER_BUSY', 'Too many uploads are in progress, try again shortly', { 'Retry-After': RETRY_AFTER_SECONDS })
      }
      used += cost
      uploadsByAddress.set(address, uploads + 1)
      let released = false
      return () => {
        if (released) return
        released = true
        used -= cost
        const left = (uploadsByAddress.get(address) ?? 1) - 1
        if (left === 0) uploadsByAddress.delete(address)
        else uploadsByAddress.set(address, left)
      }
    }
  }
}
