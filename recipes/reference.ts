// A reference: a key whose typed value names another key (`{"t":"ref","v":{"target":...}}`).
// deref() reads the reference and its target as of one moment (following chains of references,
// detecting cycles):
//   v3: the first read fixes a revision; every further read is a range at that revision (one
//       snapshot, one round trip per hop);
//   v2: each hop is a quorum read; after the target, every reference of the chain is read again
//       and must be unchanged (same modifiedIndex): all of them then held their values for the
//       whole time the target was read, so the result is what one read at that moment would give
//       (otherwise it starts over). 2 round trips per hop + 1.
// Retargeting is compare-and-swap on the reference's version; follow() watches the chain and the
// target and yields a fresh deref after every retarget or target change.

import { OutcomeUnknownError } from '../src/index.js'
import { isV3, revNumber, type AnyClient } from './api.js'
import { kvFor } from './kv.js'
import { type Codec, decodeEnvelope, decodeValue, encodeValue, readEnvelope } from './codec.js'
import { nextChange } from './snapshot.js'
import { landed, readAt, type CallOpts } from './typed.js'
import { RecipeError } from './internal.js'

/** The reference (or one in its chain) names a key that does not exist, or is not set itself. */
export class DanglingReferenceError extends RecipeError {
  constructor(readonly reference: string, readonly target: string | undefined) {
    super(target === undefined ? `reference ${reference} is not set` : `reference ${reference} dangles: ${target} does not exist`, undefined, 'DANGLING_REFERENCE')
  }
}

/** Following references came back to a key already on the path. */
export class ReferenceCycleError extends RecipeError {
  constructor(readonly path: string[]) {
    super(`reference cycle: ${path.join(' -> ')}`, undefined, 'REFERENCE_CYCLE')
  }
}

/** What deref() found. */
export interface Deref<T> {
  /** The key finally read (the end of the chain). */
  target: string
  value: T
  /** The references followed, starting with this one. */
  path: string[]
}

const refCodec: Codec<string> = {
  type: 'ref',
  toJson: (target) => {
    if (typeof target !== 'string' || !target.startsWith('/')) throw new TypeError(`a reference target must be an absolute key, got ${String(target)}`)
    return { target }
  },
  fromJson: (v) => {
    const t = (v as { target?: unknown } | null)?.target
    if (typeof t !== 'string') throw new TypeError('bad ref')
    return t
  },
}

/** One hop read: the key's text and version, and the index the read answered at. */
interface Hop { key: string; text?: string; version: number; index: number }

const MAX_HOPS = 64

/**
 * ```ts
 * const current = new Reference(client, '/app/current-config', types.json<Config>())
 * await current.set('/app/configs/v7')
 * const { value } = await current.deref()
 * ```
 */
export class Reference<T> {
  constructor(readonly client: AnyClient, readonly key: string, readonly codec: Codec<T>) {}

  /** Points the reference at `target` (unconditionally). */
  async set(target: string, opts: CallOpts = {}): Promise<void> {
    const text = encodeValue(refCodec, target)
    await kvFor(this.client).put(this.key, text, opts.signal)
  }

  /** The key the reference names; undefined when it is not set. */
  async target(opts: CallOpts = {}): Promise<string | undefined> {
    const cur = await kvFor(this.client).read(this.key, opts.signal)
    return cur && this.targetOf(this.key, cur.value)
  }

  /**
   * Points the reference at `next` only if it still names `expected` (undefined: only if unset).
   * Returns false when it named something else.
   */
  async retarget(expected: string | undefined, next: string, opts: CallOpts = {}): Promise<boolean> {
    const kv = kvFor(this.client)
    const cur = await kv.read(this.key, opts.signal)
    if ((cur && this.targetOf(this.key, cur.value)) !== expected) return false
    const text = encodeValue(refCodec, next)
    const version = cur?.version ?? 0
    try {
      return await kv.swap(this.key, text, version, opts.signal)
    } catch (err) {
      if (!(err instanceof OutcomeUnknownError)) throw err
      return landed(this.client, this.key, version, text, err, opts.signal)
    }
  }

  /** Removes the reference (not its target). */
  async delete(opts: CallOpts = {}): Promise<boolean> {
    return kvFor(this.client).remove(this.key, opts.signal)
  }

  /**
   * Reads the target's value consistently with the reference (see the top of this file).
   * @throws DanglingReferenceError, ReferenceCycleError, WrongTypeError.
   */
  async deref(opts: CallOpts = {}): Promise<Deref<T>> {
    const r = await this.resolve(opts.signal)
    if (r.hops[r.hops.length - 1]!.text === undefined) throw new DanglingReferenceError(r.path[r.path.length - 1]!, r.hops.length > 1 ? r.hops[r.hops.length - 1]!.key : undefined)
    return { target: r.target, value: this.valueOf(r), path: r.path }
  }

  /**
   * The dereferenced value now, then again after every retarget (anywhere in the chain) or change
   * of the target; `value` is undefined while the reference dangles.
   */
  async *follow(opts: CallOpts = {}): AsyncGenerator<{ target: string | undefined; value: T | undefined }, void, undefined> {
    let last = ''
    for (;;) {
      if (opts.signal?.aborted) return
      let r: Resolved
      try {
        r = await this.resolve(opts.signal)
      } catch (err) {
        if (opts.signal?.aborted) return
        throw err
      }
      const end = r.hops[r.hops.length - 1]!
      const sig = JSON.stringify(r.hops.map((h) => [h.key, h.version]))
      if (sig !== last) {
        last = sig
        const dangling = end.text === undefined
        yield { target: r.hops.length > 1 || !dangling ? r.target : undefined, value: dangling ? undefined : this.valueOf(r) }
      }
      try {
        await nextChange(this.client, { keys: r.hops.map((h) => h.key) }, r.index, opts.signal)
      } catch (err) {
        if (opts.signal?.aborted) return
        throw err
      }
    }
  }

  private targetOf(key: string, text: string): string {
    const env = readEnvelope(text)
    return decodeEnvelope(refCodec, env ?? { t: 'untyped', v: null, n: '' }, key)
  }

  private valueOf(r: Resolved): T {
    const end = r.hops[r.hops.length - 1]!
    return decodeValue(this.codec, end.text!, end.key)
  }

  /** Reads the chain from this reference to the first key that is not a reference (or is absent). */
  private async resolve(signal?: AbortSignal): Promise<Resolved> {
    for (let attempt = 0; ; attempt++) {
      const hops: Hop[] = []
      const path: string[] = []
      let key = this.key
      let rev: bigint | undefined
      for (;;) {
        if (path.includes(key)) throw new ReferenceCycleError([...path, key])
        if (hops.length > MAX_HOPS) throw new RecipeError(`reference chain from ${this.key} is longer than ${MAX_HOPS}`)
        const hop = await this.read(key, rev, signal)
        if (rev === undefined && isV3(this.client)) rev = BigInt(hop.index)
        hops.push(hop)
        const env = readEnvelope(hop.text)
        if (hop.text === undefined || !env || env.t !== 'ref' || (hops.length > 1 && this.codec.type === 'ref')) break
        path.push(key)
        key = this.targetOf(key, hop.text)
      }
      if (path.length === 0) {
        // This key is not a reference: unset, or another type.
        if (hops[0]!.text === undefined) throw new DanglingReferenceError(this.key, undefined)
        this.targetOf(this.key, hops[0]!.text) // throws WrongTypeError
      }
      if (isV3(this.client) || (await this.unchanged(hops.slice(0, -1), signal))) {
        return { hops, path, target: key, index: hops[0]!.index }
      }
      if (attempt >= 20) throw new RecipeError(`reference ${this.key} kept changing while it was read`)
    }
  }

  /** v2: every reference read on the way still has the version we read. */
  private async unchanged(refs: Hop[], signal?: AbortSignal): Promise<boolean> {
    for (const h of refs) if ((await readAt(this.client, h.key, signal)).version !== h.version) return false
    return true
  }

  private async read(key: string, rev: bigint | undefined, signal?: AbortSignal): Promise<Hop> {
    const client = this.client
    if (isV3(client) && rev !== undefined) {
      const res = await client.range(key, { revision: rev, signal })
      const kv = res.kvs[0]
      return { key, text: kv?.valueString, version: kv ? revNumber(kv.modRevision) : 0, index: Number(rev) }
    }
    return { key, ...(await readAt(client, key, signal)) }
  }
}

interface Resolved {
  hops: Hop[]
  path: string[]
  target: string
  /** Index / revision of the first read: changes after it are waited for. */
  index: number
}
