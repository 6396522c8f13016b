// KeyValue (the v3 key-value record) and the public helpers for bytes and int64 values: keys and
// values are bytes, revisions and IDs are bigint; these convert to and from what programs use.

import { utf8Bytes, utf8Text } from '../bytes.js'
import { ValidationError } from '../errors.js'
import type { Bytes, Int64 } from './types.js'

/** A key with its value and metadata, as a range, a txn or a watch returns it. */
export class KeyValue {
  constructor(
    readonly key: Uint8Array,
    /** Empty on a delete event and with `keysOnly`. */
    readonly value: Uint8Array,
    /** Revision of the put that created the key (0n in a delete event). */
    readonly createRevision: bigint,
    /** Revision of the last change. */
    readonly modRevision: bigint,
    /** Number of puts since the key was created (1 after the first). */
    readonly version: number,
    /** Lease the key is attached to (0n: none). */
    readonly lease: bigint,
  ) {}

  /** The key as UTF-8 text. */
  get keyString(): string {
    return utf8Text(this.key)
  }

  /** The value as UTF-8 text. */
  get valueString(): string {
    return utf8Text(this.value)
  }

  /** The value parsed as JSON. @throws ValidationError if it is not JSON. */
  json<T = unknown>(): T {
    try {
      return JSON.parse(this.valueString) as T
    } catch (err) {
      throw new ValidationError(`${JSON.stringify(this.keyString)} does not hold JSON: ${(err as Error).message}`)
    }
  }
}

/** Bytes of a key or value argument (strings as UTF-8). */
export function toBytes(x: Bytes, what = 'key'): Uint8Array {
  if (typeof x === 'string') return utf8Bytes(x)
  if (x instanceof Uint8Array) return x
  throw new ValidationError(`${what} must be a string or a Uint8Array`)
}

const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

/** An int64 argument as bigint. @throws ValidationError if it is not an integer in int64 range. */
export function toInt64(x: Int64, what = 'value'): bigint {
  let v: bigint
  if (typeof x === 'bigint') v = x
  else if (typeof x === 'number') {
    if (!Number.isSafeInteger(x)) throw new ValidationError(`${what} must be a safe integer (use a bigint or a decimal string), got ${x}`)
    v = BigInt(x)
  } else if (typeof x === 'string' && /^-?\d+$/.test(x)) v = BigInt(x)
  else throw new ValidationError(`${what} must be an integer, got ${String(x)}`)
  if (v < INT64_MIN || v > INT64_MAX) throw new ValidationError(`${what} is outside the int64 range: ${v}`)
  return v
}

/**
 * A lease ID (or any ID) in lowercase hex as Go's `fmt.Sprintf("%x", id)` writes it: the form
 * etcd's Go concurrency package and `etcdctl lock` use in key names (`prefix/<hex lease id>`).
 */
export function leaseIdHex(id: Int64): string {
  const v = toInt64(id, 'lease id')
  return v < 0n ? '-' + (-v).toString(16) : v.toString(16)
}

/** The range end that selects every key starting with `prefix` (all keys for an empty prefix). */
export function prefixRangeEnd(prefix: Uint8Array): Uint8Array {
  const end = prefix.slice()
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1
      return end.subarray(0, i + 1)
    }
  }
  // Only 0xff bytes (or empty): no upper bound.
  return new Uint8Array([0])
}
