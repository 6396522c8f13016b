// Internal tree node of the v2 store and its JSON renderings (NODE-1, NODE-4, KEYS-3..5, HID-1).
// No I/O; time for `ttl` arrives as an argument.

import { formatRFC3339Nano, remainingTtlSeconds } from './time.js'
import type { NodeJSON } from './types.js'
import type { TtlItem } from './ttl-heap.js'

/** Creation order of nodes: a directory's Map holds its children in ascending `seq`. */
let nextSeq = 0

/** A file (children === null) or a directory (children !== null). */
export class Node implements TtlItem {
  /** Expiration in ms since the epoch; undefined = permanent. */
  expireMs: number | undefined
  /** Slot in the TTL heap, -1 when not in it (owned by TtlHeap). */
  heapIndex = -1
  /**
   * Position in creation order. A node is inserted into its parent's Map right after it is built
   * and never re-inserted, so a listing iterating a Map can tell by `seq` whether it already
   * passed a child (see listing.ts).
   */
  readonly seq = nextSeq++

  constructor(
    /** Full cleaned key, '/' for the root. */
    readonly path: string,
    /** Last path segment ('' for the root). */
    readonly name: string,
    public parent: Node | null,
    public createdIndex: number,
    public modifiedIndex: number,
    /** File value ('' for directories). */
    public value: string,
    /** Children by name, in insertion order; null for files. */
    readonly children: Map<string, Node> | null,
    expireMs: number | undefined,
  ) {
    this.expireMs = expireMs
  }

  get isDir(): boolean {
    return this.children !== null
  }

  /** HID-1: the node's own name starts with '_'. */
  get isHidden(): boolean {
    return this.name.charCodeAt(0) === 95 /* _ */
  }
}

/**
 * Builds a NodeJSON with fields in etcd's order, omitting absent ones (NODE-1). `key` '/' (root)
 * and zero indexes are omitted.
 */
export function nodeJSON(
  key: string,
  value: string | undefined,
  dir: boolean,
  expireMs: number | undefined,
  nowMs: number,
  nodes: NodeJSON[] | undefined,
  modifiedIndex: number,
  createdIndex: number,
): NodeJSON {
  const o: NodeJSON = {}
  if (key !== '/' && key !== '') o.key = key
  if (value !== undefined) o.value = value
  if (dir) o.dir = true
  if (expireMs !== undefined) {
    o.expiration = formatRFC3339Nano(expireMs)
    const ttl = remainingTtlSeconds(expireMs, nowMs)
    if (ttl !== 0) o.ttl = ttl
  }
  if (nodes !== undefined && nodes.length > 0) o.nodes = nodes
  if (modifiedIndex !== 0) o.modifiedIndex = modifiedIndex
  if (createdIndex !== 0) o.createdIndex = createdIndex
  return o
}

/** Byte-wise (UTF-8) order of two strings, as Go's string comparison (KEYS-5). */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i)
    const cb = b.charCodeAt(i)
    if (ca !== cb) {
      // UTF-16 order differs from UTF-8 order only between surrogates and U+E000..U+FFFF.
      if (ca >= 0xd800 && cb >= 0xd800) {
        return (ca >= 0xe000 ? ca - 0x800 : ca + 0x2000) - (cb >= 0xe000 ? cb - 0x800 : cb + 0x2000)
      }
      return ca - cb
    }
  }
  return a.length - b.length
}

function byKey(a: NodeJSON, b: NodeJSON): number {
  return compareKeys(a.key ?? '', b.key ?? '')
}

/**
 * A node as GET shows it: files with value; directories with their visible children (one level,
 * or the whole visible subtree when `recursive`), hidden children skipped at every depth (HID-1),
 * every `nodes` array sorted by key when `sorted` (KEYS-5).
 */
export function renderForGet(n: Node, recursive: boolean, sorted: boolean, nowMs: number, top = true): NodeJSON {
  if (n.children === null) {
    return nodeJSON(n.path, n.value, false, n.expireMs, nowMs, undefined, n.modifiedIndex, n.createdIndex)
  }
  let nodes: NodeJSON[] | undefined
  if (top || recursive) {
    nodes = []
    for (const child of n.children.values()) {
      if (child.isHidden) continue
      nodes.push(recursive ? renderForGet(child, true, sorted, nowMs, false) : renderPlain(child, nowMs))
    }
    if (sorted && nodes.length > 1) nodes.sort(byKey)
  }
  return nodeJSON(n.path, undefined, true, n.expireMs, nowMs, nodes, n.modifiedIndex, n.createdIndex)
}

/** The non-recursive form used for prevNode and for child directories (NODE-4): never `nodes`. */
export function renderPlain(n: Node, nowMs: number): NodeJSON {
  return n.children === null
    ? nodeJSON(n.path, n.value, false, n.expireMs, nowMs, undefined, n.modifiedIndex, n.createdIndex)
    : nodeJSON(n.path, undefined, true, n.expireMs, nowMs, undefined, n.modifiedIndex, n.createdIndex)
}

/**
 * KEYS-1 key cleaning (Go path.Clean of '/' + key): collapse slashes, resolve '.' and '..', drop a
 * trailing slash. '' and '/' are the root '/'.
 */
export function cleanKey(key: string): string {
  // Fast path: already clean.
  if (key.length > 1 && key.charCodeAt(0) === 47 && !/\/\/|\/\.\.?(\/|$)|\/$/.test(key)) return key
  const out: string[] = []
  for (const seg of key.split('/')) {
    if (seg === '' || seg === '.') continue
    if (seg === '..') out.pop()
    else out.push(seg)
  }
  return '/' + out.join('/')
}
