// Password hashing for the v2 auth API (AUTH-16) and a cache of verified passwords. etcd stores
// bcrypt (cost 10); bcrypt is not available here without a new dependency, so we use Node's
// built-in scrypt (memory-hard, N=2^14, r=8, p=1: ~40-80 ms per hash) with a 16-byte random salt.
// Hashing happens on the proposing member before a mutation is proposed, so the replicated state
// only ever holds hashes and every member applies the same bytes. The cache maps (user, SHA-256 of
// the password) to the hash it was verified against: a changed password or a deleted user no
// longer matches, so no explicit invalidation can be forgotten. Never logs or stores plain text.
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto'

const N = 16384
const R = 8
const P = 1
const KEYLEN = 32
const MAXMEM = 64 * 1024 * 1024

function scryptAsync(password: string, salt: Buffer, n: number, r: number, p: number, keylen: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keylen, { N: n, r, p, maxmem: MAXMEM }, (e, key) => (e ? reject(e) : resolve(key)))
  })
}

/** Hashes a password: `$scrypt$N$r$p$<salt base64>$<key base64>`. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await scryptAsync(password, salt, N, R, P, KEYLEN)
  return `$scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`
}

/** Checks `password` against a hash made by hashPassword; false for anything malformed. */
export async function checkPassword(hash: string, password: string): Promise<boolean> {
  const parts = hash.split('$')
  if (parts.length !== 7 || parts[1] !== 'scrypt') return false
  const n = Number(parts[2])
  const r = Number(parts[3])
  const p = Number(parts[4])
  // Only parameters we could have written: a hostile snapshot must not make us burn memory.
  if (n !== N || r !== R || p !== P) return false
  const salt = Buffer.from(parts[5]!, 'base64')
  const want = Buffer.from(parts[6]!, 'base64')
  if (want.length !== KEYLEN) return false
  try {
    const got = await scryptAsync(password, salt, n, r, p, want.length)
    return timingSafeEqual(got, want)
  } catch {
    return false
  }
}

/**
 * Bounded cache of successful password checks, de-duplication of checks in flight, and a limit on
 * concurrent KDF runs: scrypt runs on libuv's thread pool (4 threads by default), which the WAL's
 * file I/O also needs, so a flood of wrong passwords must not occupy all of it.
 */
export class PasswordCache {
  private readonly ok = new Map<string, string>()
  private readonly inFlight = new Map<string, Promise<boolean>>()
  private running = 0
  private readonly waiting: (() => void)[] = []

  constructor(
    private readonly maxEntries = 10_000,
    private readonly maxConcurrent = 2,
  ) {}

  private async limited(hash: string, password: string): Promise<boolean> {
    // A finishing run hands its slot straight to the next waiter, so the limit holds exactly.
    if (this.running >= this.maxConcurrent) await new Promise<void>((resolve) => this.waiting.push(resolve))
    else this.running++
    try {
      return await checkPassword(hash, password)
    } finally {
      const next = this.waiting.shift()
      if (next) next()
      else this.running--
    }
  }

  private static key(user: string, password: string): string {
    return user + '\0' + createHash('sha256').update(password, 'utf8').digest('base64')
  }

  /**
   * Whether `password` matches `hash` for `user`: synchronously `true` when this exact pair was
   * verified before against this same hash, else a promise of the (slow) check.
   */
  check(user: string, hash: string, password: string): true | Promise<boolean> {
    const k = PasswordCache.key(user, password)
    if (this.ok.get(k) === hash) return true
    const fk = k + '\0' + hash
    const pending = this.inFlight.get(fk)
    if (pending) return pending
    const p = this.limited(hash, password).then((good) => {
      this.inFlight.delete(fk)
      if (good) {
        if (this.ok.size >= this.maxEntries) this.ok.clear()
        this.ok.set(k, hash)
      }
      return good
    })
    this.inFlight.set(fk, p)
    return p
  }

  /** Number of cached successful checks (tests). */
  get size(): number {
    return this.ok.size
  }
}
