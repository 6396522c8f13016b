// Typed registers, maps and sets on either API. A TypedValue is one key holding a typed envelope
// (see codec.ts); updates are compare-and-swap loops on its version (v2 modifiedIndex, v3 mod
// revision), so `incr` (exact bigint ints) and `incrFloat` never lose a concurrent update. Every
// write carries a fresh nonce: when a reply is lost, the first write after the version we
// compared against (read from the watch history) tells whether ours landed, so it is counted once,
// even if other writers have changed the key since.

import { KeyNotFoundError, OutcomeUnknownError } from '../src/index.js'
import { isV3, revNumber, type AnyClient } from './api.js'
import { kvFor } from './kv.js'
import { type Codec, decodeValue, encodeValue, readEnvelope } from './codec.js'
import { canonicalJson } from './collections.js'
import { nextChange, snapshot } from './snapshot.js'
import { abortReason, combineSignals, guardFor, joinKey } from './internal.js'

export interface CallOpts {
  signal?: AbortSignal
}

/** A key's text, version (0: absent) and the index/revision of the read. */
export async function readAt(client: AnyClient, key: string, signal?: AbortSignal): Promise<{ text?: string; version: number; index: number }> {
  if (isV3(client)) {
    const res = await client.range(key, { signal })
    const kv = res.kvs[0]
    return { text: kv?.valueString, version: kv ? revNumber(kv.modRevision) : 0, index: revNumber(res.header.revision) }
  }
  try {
    const res = await guardFor(client).get(client, key, { signal })
    return { text: res.node.value ?? '', version: res.node.modifiedIndex, index: res.etcdIndex }
  } catch (err) {
    if (err instanceof KeyNotFoundError) return { version: 0, index: err.index }
    throw err
  }
}

/**
 * After a lost reply to a write of `text` compared against `version`: did it land? The first
 * change of the key after `version` is ours exactly when it holds our (unique) text.
 * @throws OutcomeUnknownError when the history no longer reaches back that far.
 */
export async function landed(client: AnyClient, key: string, version: number, text: string, lost: unknown, signal?: AbortSignal): Promise<boolean> {
  const now = await readAt(client, key, signal)
  if (now.text === text) return true
  if (now.version === version) return false
  const { signal: s, dispose } = combineSignals([signal], 10_000)
  try {
    if (isV3(client)) {
      const w = client.watch(key, { startRevision: BigInt(version + 1), signal: s })
      try {
        for await (const ev of w) {
          if (ev.type === 'progress') continue
          if (ev.type === 'resync') break
          return ev.type === 'put' && ev.kv.valueString === text
        }
      } finally {
        w.close()
      }
    } else {
      const w = client.watch(key, { waitIndex: version + 1, signal: s })
      try {
        for await (const ev of w) {
          if (ev.type === 'resync') break
          return ev.node.value === text
        }
      } finally {
        w.close()
      }
    }
  } catch (err) {
    if (signal?.aborted) throw abortReason(signal)
  } finally {
    dispose()
  }
  throw lost
}

/**
 * One typed key: get, set, compare-and-swap update, increments, watch.
 * ```ts
 * const temp = new TypedValue(client, '/sensors/t1', types.float)
 * await temp.incrFloat(0.5)
 * ```
 */
export class TypedValue<T> {
  constructor(readonly client: AnyClient, readonly key: string, readonly codec: Codec<T>) {}

  /** The value, or undefined when the key is absent. @throws WrongTypeError (code WRONG_TYPE). */
  async get(opts: CallOpts = {}): Promise<T | undefined> {
    const cur = await kvFor(this.client).read(this.key, opts.signal)
    return cur && decodeValue(this.codec, cur.value, this.key)
  }

  /** Writes the value (create or replace). One round trip. */
  async set(value: T, opts: CallOpts = {}): Promise<void> {
    const text = encodeValue(this.codec, value)
    try {
      await kvFor(this.client).put(this.key, text, opts.signal)
    } catch (err) {
      if (!(err instanceof OutcomeUnknownError)) throw err
      // Our text there: it landed. Otherwise it may have landed and been overwritten; writing it
      // again could undo a later writer, so the caller is told.
      if ((await kvFor(this.client).read(this.key, opts.signal).catch(() => undefined))?.value !== text) throw err
    }
  }

  /** Creates the key only if absent; false when it existed. */
  async setIfAbsent(value: T, opts: CallOpts = {}): Promise<boolean> {
    const text = encodeValue(this.codec, value)
    try {
      return await kvFor(this.client).swap(this.key, text, 0, opts.signal)
    } catch (err) {
      if (!(err instanceof OutcomeUnknownError)) throw err
      return landed(this.client, this.key, 0, text, err, opts.signal)
    }
  }

  /** Removes the key; false when it did not exist. */
  async delete(opts: CallOpts = {}): Promise<boolean> {
    return kvFor(this.client).remove(this.key, opts.signal)
  }

  /**
   * Atomic read-modify-write: `fn` gets the current value (undefined: absent) and returns the new
   * one. Applied exactly once, also when a reply is lost. Returns the new value.
   */
  async update(fn: (cur: T | undefined) => T, opts: CallOpts = {}): Promise<T> {
    const kv = kvFor(this.client)
    for (;;) {
      const cur = await kv.read(this.key, opts.signal)
      const next = fn(cur && decodeValue(this.codec, cur.value, this.key))
      const text = encodeValue(this.codec, next)
      const version = cur?.version ?? 0
      try {
        if (await kv.swap(this.key, text, version, opts.signal)) return next
      } catch (err) {
        if (!(err instanceof OutcomeUnknownError)) throw err
        if (await landed(this.client, this.key, version, text, err, opts.signal)) return next
      }
    }
  }

  /** Adds to an int (bigint, exact at any size; absent counts as 0). Returns the new value. */
  incr(this: TypedValue<bigint>, delta: bigint | number = 1n, opts: CallOpts = {}): Promise<bigint> {
    if (typeof delta === 'number' && !Number.isSafeInteger(delta)) throw new TypeError(`int delta must be a safe integer or a bigint, got ${delta}`)
    const d = BigInt(delta)
    return this.update((cur) => (cur ?? 0n) + d, opts)
  }

  /** Adds to a float (absent counts as 0). Returns the new value. */
  incrFloat(this: TypedValue<number>, delta: number, opts: CallOpts = {}): Promise<number> {
    if (!Number.isFinite(delta)) throw new TypeError(`float delta must be finite, got ${delta}`)
    return this.update((cur) => {
      const next = (cur ?? 0) + delta
      if (!Number.isFinite(next)) throw new RangeError(`float overflow adding ${delta}`)
      return next
    }, opts)
  }

  /**
   * The current value, then every later value (undefined: deleted), one per change. Values are
   * read after each change, so quick successive changes may be folded into the latest one.
   */
  async *watch(opts: CallOpts = {}): AsyncGenerator<T | undefined, void, undefined> {
    let last = -1
    for (;;) {
      if (opts.signal?.aborted) return
      const cur = await readAt(this.client, this.key, opts.signal)
      if (cur.version !== last) {
        last = cur.version
        yield cur.text === undefined ? undefined : decodeValue(this.codec, cur.text, this.key)
      }
      try {
        await nextChange(this.client, { keys: [this.key] }, cur.index, opts.signal)
      } catch (err) {
        if (opts.signal?.aborted) return
        throw err
      }
    }
  }
}

/**
 * A map of typed fields, one key per field under `dir` (field names URI-encoded), like a Redis hash.
 * ```ts
 * const stats = new TypedMap<'hits' | 'bytes', bigint>(client, '/stats/web', types.int)
 * await stats.incr('hits')
 * ```
 */
export class TypedMap<K extends string, V> {
  readonly dir: string

  constructor(readonly client: AnyClient, dir: string, readonly codec: Codec<V>) {
    this.dir = joinKey(dir)
  }

  /** The register of one field. */
  field(k: K): TypedValue<V> {
    return new TypedValue(this.client, joinKey(this.dir, encodeURIComponent(k)), this.codec)
  }

  get(k: K, opts: CallOpts = {}): Promise<V | undefined> {
    return this.field(k).get(opts)
  }

  async has(k: K, opts: CallOpts = {}): Promise<boolean> {
    return (await kvFor(this.client).read(this.field(k).key, opts.signal)) !== undefined
  }

  set(k: K, v: V, opts: CallOpts = {}): Promise<void> {
    return this.field(k).set(v, opts)
  }

  setIfAbsent(k: K, v: V, opts: CallOpts = {}): Promise<boolean> {
    return this.field(k).setIfAbsent(v, opts)
  }

  delete(k: K, opts: CallOpts = {}): Promise<boolean> {
    return this.field(k).delete(opts)
  }

  update(k: K, fn: (cur: V | undefined) => V, opts: CallOpts = {}): Promise<V> {
    return this.field(k).update(fn, opts)
  }

  /** HINCRBY: exact int increment of one field. */
  incr(this: TypedMap<K, bigint>, k: K, delta: bigint | number = 1n, opts: CallOpts = {}): Promise<bigint> {
    return this.field(k).incr(delta, opts)
  }

  /** HINCRBYFLOAT: float increment of one field. */
  incrFloat(this: TypedMap<K, number>, k: K, delta: number, opts: CallOpts = {}): Promise<number> {
    return this.field(k).incrFloat(delta, opts)
  }

  /** Watches one field (see TypedValue.watch). */
  watchField(k: K, opts: CallOpts = {}): AsyncGenerator<V | undefined, void, undefined> {
    return this.field(k).watch(opts)
  }

  /** All fields in one consistent read, sorted by field name. @throws WrongTypeError. */
  async entries(opts: CallOpts = {}): Promise<[K, V][]> {
    const snap = await snapshot(this.client, this.dir, opts.signal)
    const out: [K, V][] = []
    for (const e of snap.entries) {
      const name = e.key.slice(this.dir.length + 1)
      if (name.includes('/')) continue
      out.push([decodeURIComponent(name) as K, decodeValue(this.codec, e.value, e.key)])
    }
    return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  }

  /** Number of fields. */
  async size(opts: CallOpts = {}): Promise<number> {
    return (await this.entries(opts)).length
  }
}

/** A set of typed members (compared by their canonical JSON encoding), one key per member. */
export class TypedSet<T> {
  readonly dir: string

  constructor(readonly client: AnyClient, dir: string, readonly codec: Codec<T>) {
    this.dir = joinKey(dir)
  }

  private keyOf(v: T): string {
    return joinKey(this.dir, encodeURIComponent(canonicalJson(this.codec.toJson(v))))
  }

  /** Adds a member; false when it was already there (SADD). */
  add(v: T, opts: CallOpts = {}): Promise<boolean> {
    return new TypedValue(this.client, this.keyOf(v), this.codec).setIfAbsent(v, opts)
  }

  async has(v: T, opts: CallOpts = {}): Promise<boolean> {
    return (await kvFor(this.client).read(this.keyOf(v), opts.signal)) !== undefined
  }

  /** Removes a member; false when it was not there. */
  delete(v: T, opts: CallOpts = {}): Promise<boolean> {
    return kvFor(this.client).remove(this.keyOf(v), opts.signal)
  }

  /** All members in one consistent read. @throws WrongTypeError. */
  async values(opts: CallOpts = {}): Promise<T[]> {
    const snap = await snapshot(this.client, this.dir, opts.signal)
    return snap.entries.filter((e) => !e.key.slice(this.dir.length + 1).includes('/'))
      .map((e) => decodeValue(this.codec, e.value, e.key))
  }

  async size(opts: CallOpts = {}): Promise<number> {
    return (await this.values(opts)).length
  }
}

