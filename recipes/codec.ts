// Typed values for the data-structure recipes. Every stored value is a small JSON envelope that
// names its type beside the value, `{"t":"int","v":"123","n":"<nonce>"}`, so a reader expecting
// another type gets a WrongTypeError instead of a silently misread value, and the nonce makes each
// write unique (a write whose reply was lost is recognised by reading it back). Ints are decimal
// strings (exact beyond 2^53, as bigint); floats are finite JSON numbers; bytes are base64.

import { RecipeError, nonce } from './internal.js'

/** The type tags a stored value can carry. */
export type TypeTag = 'int' | 'float' | 'string' | 'bytes' | 'json' | 'ref'

/** How values of type T are written into and read from an envelope. */
export interface Codec<T> {
  readonly type: TypeTag
  /** The envelope's `v` for a value (throws TypeError for a value the type cannot hold). */
  toJson(value: T): unknown
  /** The value from an envelope's `v` (throws TypeError when `v` has the wrong shape). */
  fromJson(v: unknown): T
}

/** What is stored: type tag, value, nonce, and recipe-specific fields (list moves...). */
export interface Envelope {
  t: TypeTag | string
  v: unknown
  n: string
  [extra: string]: unknown
}

/** A value was stored with another type than the reader expects, or is not a typed value at all. */
export class WrongTypeError extends RecipeError {
  constructor(readonly key: string, readonly expected: TypeTag, readonly actual: string) {
    super(`${key} holds ${actual === 'untyped' ? 'a value that is not a typed value' : `a value of type ${actual}`}, expected ${expected}`, undefined, 'WRONG_TYPE')
  }
}

const int: Codec<bigint> = {
  type: 'int',
  toJson(v) {
    if (typeof v !== 'bigint') throw new TypeError(`an int value must be a bigint, got ${typeof v}`)
    return v.toString()
  },
  fromJson(v) {
    if (typeof v !== 'string' || !/^-?\d+$/.test(v)) throw new TypeError('bad int')
    return BigInt(v)
  },
}

const float: Codec<number> = {
  type: 'float',
  toJson(v) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`a float value must be a finite number, got ${String(v)}`)
    return v
  },
  fromJson(v) {
    if (typeof v !== 'number') throw new TypeError('bad float')
    return v
  },
}

const string: Codec<string> = {
  type: 'string',
  toJson(v) {
    if (typeof v !== 'string') throw new TypeError(`a string value must be a string, got ${typeof v}`)
    return v
  },
  fromJson(v) {
    if (typeof v !== 'string') throw new TypeError('bad string')
    return v
  },
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

/** Base64 without Node's Buffer or atob (recipes run in browsers and edge runtimes too). */
function toBase64(bytes: Uint8Array): string {
  let out = ''
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0)
    out += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]! + (i + 1 < bytes.length ? B64[(n >> 6) & 63]! : '=') + (i + 2 < bytes.length ? B64[n & 63]! : '=')
  }
  return out
}

function fromBase64(s: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) throw new TypeError('bad base64')
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0
  const out = new Uint8Array((s.length / 4) * 3 - pad)
  let o = 0
  for (let i = 0; i < s.length; i += 4) {
    const n = (B64.indexOf(s[i]!) << 18) | (B64.indexOf(s[i + 1]!) << 12) | ((B64.indexOf(s[i + 2]!) & 63) << 6) | (B64.indexOf(s[i + 3]!) & 63)
    if (o < out.length) out[o++] = (n >> 16) & 255
    if (o < out.length) out[o++] = (n >> 8) & 255
    if (o < out.length) out[o++] = n & 255
  }
  return out
}

const bytes: Codec<Uint8Array> = {
  type: 'bytes',
  toJson(v) {
    if (!(v instanceof Uint8Array)) throw new TypeError('a bytes value must be a Uint8Array')
    return toBase64(v)
  },
  fromJson(v) {
    if (typeof v !== 'string') throw new TypeError('bad bytes')
    return fromBase64(v)
  },
}

function json<T = unknown>(): Codec<T> {
  return {
    type: 'json',
    toJson(v) {
      if (JSON.stringify(v) === undefined) throw new TypeError('value cannot be represented as JSON')
      return v
    },
    fromJson: (v) => v as T,
  }
}

/** The codecs: `types.int` (bigint), `types.float`, `types.string`, `types.bytes`, `types.json<T>()`. */
export const types = { int, float, string, bytes, json }

/** The stored text of a typed value (a fresh nonce each time unless one is given). */
export function encodeValue<T>(codec: Codec<T>, value: T, extra: Record<string, unknown> = {}, n: string = nonce()): string {
  return JSON.stringify({ t: codec.type, v: codec.toJson(value), n, ...extra })
}

/** The envelope of a stored text, or undefined when it is not a typed value. */
export function readEnvelope(text: string | undefined): Envelope | undefined {
  if (text === undefined) return undefined
  try {
    const e = JSON.parse(text) as Envelope
    if (e && typeof e === 'object' && typeof e.t === 'string' && typeof e.n === 'string' && 'v' in e) return e
  } catch {
    // not an envelope
  }
  return undefined
}

/** The value of a stored text as type T. @throws WrongTypeError (code WRONG_TYPE). */
export function decodeValue<T>(codec: Codec<T>, text: string, key: string): T {
  const e = readEnvelope(text)
  if (!e) throw new WrongTypeError(key, codec.type, 'untyped')
  return decodeEnvelope(codec, e, key)
}

export function decodeEnvelope<T>(codec: Codec<T>, e: Envelope, key: string): T {
  if (e.t !== codec.type) throw new WrongTypeError(key, codec.type, e.t)
  try {
    return codec.fromJson(e.v)
  } catch {
    throw new WrongTypeError(key, codec.type, `malformed ${e.t}`)
  }
}
