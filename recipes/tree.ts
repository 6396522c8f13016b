// A typed view of a directory subtree as one nested object: every key below `dir` is a leaf
// holding a typed value, every directory level an object (names URI-encoded, like TypedMap).
// read() is one consistent read (v2: one recursive quorum GET; v3: one range at one revision).
// watch() yields a fresh consistent read after every change below `dir`: each yielded object is a
// state the tree really had (fast successive changes may be folded into one).
// write() of several leaves: v3 sends one txn (atomic: readers see all of it or none of it, as
// long as it fits etcd's --max-txn-ops, 128 by default; larger writes are split into several
// txns and are not atomic). v2 has no transactions: the leaves are written one by one, and a
// reader may see some of them before the others.

import { KeyNotFoundError } from '../src/index.js'
import { isV3, type AnyClient } from './api.js'
import { kvFor } from './kv.js'
import { type Codec, decodeValue, encodeValue } from './codec.js'
import { nextChange, snapshot } from './snapshot.js'
import { RecipeError, joinKey } from './internal.js'
import type { CallOpts } from './typed.js'

/** A level of a tree: leaves of type T and nested levels. */
export interface TreeNode<T> {
  [name: string]: T | TreeNode<T>
}

/** Options of Tree.write. */
export interface TreeWriteOptions extends CallOpts {
  /** Also delete the leaves that `value` does not contain (default false: merge). */
  replace?: boolean
  /** Ops per v3 txn (default 128, etcd's default --max-txn-ops). */
  maxTxnOps?: number
}

/**
 * ```ts
 * const cfg = new Tree(client, '/config/web', types.string)
 * await cfg.write({ tls: { cert: '...', key: '...' }, port: '8080' })
 * const now = await cfg.read()      // { port: '8080', tls: { cert: '...', key: '...' } }
 * ```
 * Leaves are told from levels by `isLeaf` (default: not a plain object), so with `types.json`
 * an object-valued leaf needs an `isLeaf` that recognises it.
 */
export class Tree<T> {
  readonly dir: string

  constructor(
    readonly client: AnyClient,
    dir: string,
    readonly codec: Codec<T>,
    private readonly isLeaf: (v: unknown) => boolean = (v) => !isPlainObject(v),
  ) {
    this.dir = joinKey(dir)
  }

  /** The whole subtree in one consistent read ({} when empty). @throws WrongTypeError. */
  async read(opts: CallOpts = {}): Promise<TreeNode<T>> {
    return (await this.readAt(opts.signal)).tree
  }

  /** The leaf at `path`, or undefined. */
  async get(path: string[], opts: CallOpts = {}): Promise<T | undefined> {
    const cur = await kvFor(this.client).read(this.keyOf(path), opts.signal)
    return cur && decodeValue(this.codec, cur.value, this.keyOf(path))
  }

  /** Writes one leaf. */
  async set(path: string[], value: T, opts: CallOpts = {}): Promise<void> {
    await kvFor(this.client).put(this.keyOf(path), encodeValue(this.codec, value), opts.signal)
  }

  /** Writes every leaf of `value` (see the top of this file for atomicity). */
  async write(value: TreeNode<T>, opts: TreeWriteOptions = {}): Promise<void> {
    const leaves = new Map<string, string>()
    this.flatten(value, [], leaves)
    const deletes: string[] = []
    if (opts.replace) {
      for (const e of (await snapshot(this.client, this.dir, opts.signal)).entries) if (!leaves.has(e.key)) deletes.push(e.key)
    }
    const client = this.client
    if (isV3(client)) {
      const ops = [
        ...[...leaves].map(([key, v]) => ({ put: { key, value: v } })),
        ...deletes.map((key) => ({ delete: { key } })),
      ]
      const max = opts.maxTxnOps ?? 128
      // Not retried after a lost reply (OutcomeUnknownError): a repeat could undo a later writer.
      for (let i = 0; i < ops.length; i += max) await client.txn({ success: ops.slice(i, i + max) }, { signal: opts.signal })
      return
    }
    for (const [key, v] of leaves) await kvFor(client).put(key, v, opts.signal)
    for (const key of deletes) await kvFor(client).remove(key, opts.signal)
  }

  /** Deletes the whole subtree. */
  async clear(opts: CallOpts = {}): Promise<void> {
    const client = this.client
    if (isV3(client)) await client.delete(this.dir + '/', { prefix: true, signal: opts.signal })
    else await client.rmdir(this.dir, { recursive: true, signal: opts.signal }).catch((err: unknown) => { if (!(err instanceof KeyNotFoundError)) throw err })
  }

  /** The tree now, then after every change below `dir` (each a consistent read). */
  async *watch(opts: CallOpts = {}): AsyncGenerator<TreeNode<T>, void, undefined> {
    for (;;) {
      if (opts.signal?.aborted) return
      try {
        const { tree, index } = await this.readAt(opts.signal)
        yield tree
        await nextChange(this.client, { dirs: [this.dir] }, index, opts.signal)
      } catch (err) {
        if (opts.signal?.aborted) return
        throw err
      }
    }
  }

  private keyOf(path: string[]): string {
    if (path.length === 0) throw new RecipeError('a tree path needs at least one name')
    return joinKey(this.dir, ...path.map((p) => encodeURIComponent(p)))
  }

  private flatten(node: TreeNode<T>, path: string[], out: Map<string, string>): void {
    for (const [name, v] of Object.entries(node)) {
      if (v === undefined) continue
      if (this.isLeaf(v)) out.set(this.keyOf([...path, name]), encodeValue(this.codec, v as T))
      else this.flatten(v as TreeNode<T>, [...path, name], out)
    }
  }

  private async readAt(signal?: AbortSignal): Promise<{ tree: TreeNode<T>; index: number }> {
    const snap = await snapshot(this.client, this.dir, signal)
    const tree: TreeNode<T> = {}
    for (const e of snap.entries) {
      const names = e.key.slice(this.dir.length + 1).split('/').filter(Boolean).map(decodeURIComponent)
      let level = tree
      for (const name of names.slice(0, -1)) {
        const next = level[name]
        if (next !== undefined && !isPlainObject(next)) throw new RecipeError(`${e.key}: ${name} is both a value and a directory`)
        level = (level[name] ??= {}) as TreeNode<T>
      }
      const leaf = names[names.length - 1]!
      if (level[leaf] !== undefined) throw new RecipeError(`${e.key} is both a value and a directory`)
      level[leaf] = decodeValue(this.codec, e.value, e.key)
    }
    return { tree, index: snap.index }
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && Object.getPrototypeOf(v) === Object.prototype
}
