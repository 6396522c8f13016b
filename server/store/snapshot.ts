// Store snapshot format (CONS-4): the tree with absolute expirations, the etcd index and the
// retained event history, as compact deterministic JSON. Pure data conversion; no I/O.
//
// Two ways to encode: encodeSnapshot (one synchronous JSON.stringify of the whole tree), and
// captureTree + SnapshotEncoder: a cheap point-in-time copy of the fields the format needs, then
// encoding in bounded slices while the store keeps changing. Both give byte-equal text. Running
// the slices (timers, yielding) is the caller's business: the store has no timers (purity).

import { StoreEvent } from './event.js'
import { Node } from './node.js'
import type { Action, NodeJSON } from './types.js'

/** One tree node; directories have `d` (children in insertion order), files `v`. */
interface SnapNode {
  /** name (last path segment) */
  k: string
  /** createdIndex, modifiedIndex */
  c: number
  m: number
  v?: string
  /** expiration, ms since the epoch */
  e?: number
  d?: SnapNode[]
}

/** One history event exactly as it was delivered (node JSON included, ttl as computed then). */
interface SnapEvent {
  a: Action
  n: NodeJSON
  p?: NodeJSON
  i: number
  /** refresh (TTL-5): kept for index continuity, never delivered */
  r?: 1
}

export interface SnapshotV1 {
  version: 1
  index: number
  root: SnapNode[]
  history: SnapEvent[]
}

function encodeChildren(d: Node): SnapNode[] {
  const out: SnapNode[] = []
  for (const n of (d.children as Map<string, Node>).values()) {
    const o: SnapNode = { k: n.name, c: n.createdIndex, m: n.modifiedIndex }
    if (n.children === null) o.v = n.value
    if (n.expireMs !== undefined) o.e = n.expireMs
    if (n.children !== null) o.d = encodeChildren(n)
    out.push(o)
  }
  return out
}

function snapEvent(e: StoreEvent): SnapEvent {
  const o: SnapEvent = { a: e.action, n: e.node, i: e.etcdIndex }
  if (e.prevNode !== undefined) o.p = e.prevNode
  if (e.refresh) o.r = 1
  return o
}

/** Serialises a store state. Equal states give byte-equal output. */
export function encodeSnapshot(root: Node, index: number, events: StoreEvent[]): string {
  const snap: SnapshotV1 = {
    version: 1,
    index,
    root: encodeChildren(root),
    history: events.map(snapEvent),
  }
  return JSON.stringify(snap)
}

/**
 * A point-in-time copy of a store state for SnapshotEncoder: the tree in pre-order (a directory is
 * followed by its children, in insertion order) as parallel arrays of the fields the format holds,
 * the index and the retained events. Later changes to the store do not show in it: the mutable node
 * fields are copied (names and values are immutable strings, shared), and so is the event list; the
 * StoreEvent objects themselves are shared, as they never change after creation (readonly fields;
 * their node JSON is treated as immutable, being shared with every watcher and response).
 * Numbers go into typed arrays and strings into plain arrays: a capture of N nodes is a handful of
 * big objects, not N small ones that the young-generation GC would have to copy while they stay
 * alive during the encoding (measured for 100k nodes: ~7-10 ms to capture this way, ~12 ms with
 * one object per node).
 */
export interface StoreCapture {
  readonly index: number
  /** Number of tree nodes (the root not counted). */
  readonly size: number
  /** Number of children of the root. */
  readonly rootKids: number
  /** Names of nodes 0..size-1 (the arrays may be longer: reused, see CaptureBuffers). */
  readonly names: readonly string[]
  /** File value ('' for a directory). */
  readonly values: readonly string[]
  /** createdIndex, modifiedIndex of node i at 2i, 2i+1. */
  readonly indexes: Float64Array
  /** -1 for a file, else the directory's number of children. */
  readonly kids: Int32Array
  /** Nodes with an expiration, ascending, and their expirations (ms since the epoch). */
  readonly expPos: readonly number[]
  readonly expMs: readonly number[]
  /** Retained history, oldest first. */
  readonly events: readonly StoreEvent[]
  /** Encoded runs of files kept from earlier encodings of the same store (optional). */
  readonly runs?: RunCache
}

/**
 * The arrays of a capture that is no longer needed, for the next capture to fill (releaseCapture):
 * at a million nodes a fresh set is ~40 MB of large allocations, which in one synchronous burst
 * made V8 run a full, non-incremental mark-compact of the whole heap inside the capture (a pause
 * of 0.5-1.5 s, measured; reusing them: none, and the capture itself ~3x faster).
 */
export interface CaptureBuffers {
  names: string[]
  values: string[]
  indexes: Float64Array
  kids: Int32Array
}

/** One pass over the tree: O(nodes), no string work. Fills `reuse` when given (it is taken over). */
export function captureTree(root: Node, index: number, events: StoreEvent[], reuse?: CaptureBuffers, runs?: RunCache): StoreCapture {
  let cap = reuse?.kids.length ?? 1024
  let indexes = reuse?.indexes ?? new Float64Array(2 * cap)
  let kids = reuse?.kids ?? new Int32Array(cap)
  const names: string[] = reuse?.names ?? []
  const values: string[] = reuse?.values ?? []
  const expPos: number[] = []
  const expMs: number[] = []
  let len = 0
  const walk = (d: Map<string, Node>): void => {
    for (const n of d.values()) {
      if (len === cap) {
        cap *= 2
        const ix = new Float64Array(2 * cap)
        ix.set(indexes)
        indexes = ix
        const k = new Int32Array(cap)
        k.set(kids)
        kids = k
      }
      names[len] = n.name
      indexes[2 * len] = n.createdIndex
      indexes[2 * len + 1] = n.modifiedIndex
      if (n.expireMs !== undefined) {
        expPos.push(len)
        expMs.push(n.expireMs)
      }
      const ch = n.children
      if (ch === null) {
        values[len] = n.value
        kids[len++] = -1
      } else {
        values[len] = ''
        kids[len++] = ch.size
        if (ch.size > 0) walk(ch)
      }
    }
  }
  const top = root.children as Map<string, Node>
  walk(top)
  return { index, size: len, rootKids: top.size, names, values, indexes, kids, expPos, expMs, events, runs }
}

/**
 * A finished capture's arrays, emptied of strings (so they keep no old names or values alive), to
 * be reused by the next capture. The capture must not be read afterwards.
 */
export function captureBuffers(cap: StoreCapture): CaptureBuffers {
  const names = cap.names as string[]
  const values = cap.values as string[]
  names.fill('', 0, cap.size)
  values.fill('', 0, cap.size)
  return { names, values, indexes: cap.indexes, kids: cap.kids }
}

/** One encoded run of consecutive files, with what it was encoded from (to check it still holds). */
interface CachedRun {
  names: string[]
  values: string[]
  /** createdIndex, modifiedIndex, expiration (-1: none) of file i at 3i..3i+2. */
  nums: Float64Array
  /** The files' JSON objects, comma-separated, as JSON.stringify writes them. */
  text: string
  /** The encoding that last used it. */
  gen: number
}

/**
 * Encoded runs of files kept between snapshots, so that a snapshot re-encodes only what changed
 * since the last one: most of a big store is the same from one snapshot to the next, and JSON
 * encoding of its values was most of a snapshot's cost. A run is a stretch of consecutive files
 * of one directory ending where a file's createdIndex hashes to a boundary (or at RUN_MAX files),
 * so the same files form the same runs whatever was added or deleted elsewhere. A cached run is
 * used only if every field of every file still equals what it was encoded from: a stale entry
 * can cost a re-encoding, never wrong text. Bounded by `maxChars` of cached text; runs that an
 * encoding did not use are dropped when it finishes.
 */
export class RunCache {
  private readonly runs = new Map<number, CachedRun>()
  private gen = 0
  private size = 0
  /** Runs taken from the cache, and runs encoded (since the cache was made). */
  hits = 0
  misses = 0

  constructor(readonly maxChars = DEFAULT_RUN_CACHE_CHARS) {}

  /** Characters of text held. */
  get chars(): number {
    return this.size
  }

  /** Runs held. */
  get count(): number {
    return this.runs.size
  }

  /** Starts an encoding: runs it uses or makes are marked with its generation. */
  begin(): number {
    return ++this.gen
  }

  /** Drops every run the encoding `gen` did not use (it finished; nothing newer started). */
  finish(gen: number): void {
    if (gen !== this.gen) return
    for (const [k, r] of this.runs) {
      if (r.gen !== gen) {
        this.runs.delete(k)
        this.size -= r.text.length
      }
    }
  }

  clear(): void {
    this.runs.clear()
    this.size = 0
  }

  /** The text of files [start, end) of the capture; `x` is the first entry of cap.expPos at or after start. */
  text(cap: StoreCapture, start: number, end: number, x: number, gen: number): string {
    const { names, values, indexes, expPos, expMs } = cap
    const len = end - start
    const key = indexes[2 * start]
    const hit = this.runs.get(key)
    if (hit !== undefined && hit.names.length === len) {
      const nums = hit.nums
      let same = true
      for (let p = start, q = 0, y = x; p < end; p++, q++) {
        let e = -1
        if (y < expPos.length && expPos[y] === p) e = expMs[y++]
        if (hit.names[q] !== names[p] || hit.values[q] !== values[p] || nums[3 * q] !== indexes[2 * p] || nums[3 * q + 1] !== indexes[2 * p + 1] || nums[3 * q + 2] !== e) {
          same = false
          break
        }
      }
      if (same) {
        hit.gen = gen
        this.hits++
        return hit.text
      }
    }
    const text = encodeFiles(cap, start, end, x)
    this.misses++
    if (hit !== undefined) {
      this.runs.delete(key)
      this.size -= hit.text.length
    }
    if (this.size + text.length <= this.maxChars) {
      const nums = new Float64Array(3 * len)
      for (let p = start, q = 0, y = x; p < end; p++, q++) {
        nums[3 * q] = indexes[2 * p]
        nums[3 * q + 1] = indexes[2 * p + 1]
        nums[3 * q + 2] = y < expPos.length && expPos[y] === p ? expMs[y++] : -1
      }
      this.runs.set(key, { names: names.slice(start, end), values: values.slice(start, end), nums, text, gen })
      this.size += text.length
    }
    return text
  }
}

/** Default bound of a RunCache: characters of cached text (about the snapshot of 200k small keys). */
const DEFAULT_RUN_CACHE_CHARS = 64 * 1024 * 1024
/** Longest run of files encoded (and cached) as one piece. */
const RUN_MAX = 256

/** True when a run ends after the file created at `createdIndex` (1 in 32, spread by a hash). */
function endsRun(createdIndex: number): boolean {
  return Math.imul(createdIndex | 0, 0x9e3779b1) >>> 27 === 0
}

/** Files [start, end) of a capture as JSON objects, comma-separated (JSON.stringify of the run, unbracketed). */
function encodeFiles(cap: StoreCapture, start: number, end: number, x: number): string {
  const { names, values, indexes, expPos, expMs } = cap
  const run: NodeOut[] = []
  for (let p = start, y = x; p < end; p++) {
    let e: number | undefined
    if (y < expPos.length && expPos[y] === p) e = expMs[y++]
    run.push({ k: names[p], c: indexes[2 * p], m: indexes[2 * p + 1], v: values[p], e })
  }
  return JSON.stringify(run).slice(1, -1)
}

/** A node as encodeChildren builds it; JSON.stringify leaves the undefined fields out. */
interface NodeOut {
  k: string
  c: number
  m: number
  v: string | undefined
  e: number | undefined
}

/** Default bound of one SnapshotEncoder.next() slice: tree nodes (or history events)... */
export const SLICE_ITEMS = 1000
/** ...and characters of output, roughly (whichever is reached first). */
export const SLICE_CHARS = 256 * 1024

/**
 * Encodes a StoreCapture in slices: the concatenation of every next() result is exactly
 * encodeSnapshot's output for the captured state. Each call does a bounded amount of work.
 */
export class SnapshotEncoder {
  /** 0: nothing written yet, 1: in the tree, 2: in the history, 3: done. */
  private phase = 0
  /** Next tree node (pre-order position). */
  private pos = 0
  /** Next history event. */
  private ev = 0
  /** Next entry of cap.expPos. */
  private exp = 0
  /** Open arrays (the snapshot's `root` at the bottom, then `d`s): children still to write, and in all. */
  private readonly rem: number[] = []
  private readonly tot: number[] = []
  /** The last slice ended inside a run of files. */
  private cut = false
  /** This encoding's generation in cap.runs. */
  private readonly gen: number

  constructor(private readonly cap: StoreCapture) {
    this.gen = cap.runs?.begin() ?? 0
  }

  get done(): boolean {
    return this.phase === 3
  }

  /** Tree nodes written so far (for progress and tests). */
  get nodesWritten(): number {
    return this.pos
  }

  /**
   * The next piece of the text: at most `maxItems` tree nodes or history events, stopping early
   * once the piece reaches about `maxChars` characters. '' once done.
   */
  next(maxItems = SLICE_ITEMS, maxChars = SLICE_CHARS): string {
    const cap = this.cap
    let out = ''
    let items = 0
    let chars = 0
    if (this.phase === 0) {
      out = '{"version":1,"index":' + JSON.stringify(cap.index) + ',"root":['
      this.rem.push(cap.rootKids)
      this.tot.push(cap.rootKids)
      this.phase = 1
    }
    if (this.phase === 1) {
      const { names, values, indexes, kids, expPos, expMs } = cap
      const rem = this.rem
      const tot = this.tot
      const n = cap.size
      let i = this.pos
      let x = this.exp
      let top = rem.length - 1
      // Consecutive files of one directory are encoded as runs (their commas come with them), from
      // the capture's RunCache when it has one. A run cut by the end of a slice, and the rest of it
      // in the next slice, do not go through the cache: their ends depend on the slice budget.
      const runs = cap.runs
      let rs = -1
      let rx = 0
      let rComma = false
      let rWhole = false
      let resumed = this.cut
      this.cut = false
      const closeRun = (end: number, whole: boolean): void => {
        const text = runs !== undefined && whole && rWhole ? runs.text(cap, rs, end, rx, this.gen) : encodeFiles(cap, rs, end, rx)
        out += (rComma ? ',' : '') + text
        rs = -1
      }
      while (i < n && items < maxItems && chars < maxChars) {
        const comma = rem[top] !== tot[top]
        rem[top]--
        const k = kids[i]
        let e: number | undefined
        if (x < expPos.length && expPos[x] === i) e = expMs[x++]
        const name = names[i]
        if (k < 0) {
          if (rs < 0) {
            rs = i
            rx = e === undefined ? x : x - 1
            rComma = comma
            rWhole = !resumed
          }
          chars += name.length + values[i].length + 48
        } else {
          if (rs >= 0) closeRun(i, true)
          // `{"k":..,"c":..,"m":..,"e":..}` without its '}', then the children: encodeChildren's order.
          const s = JSON.stringify({ k: name, c: indexes[2 * i], m: indexes[2 * i + 1], v: undefined, e } satisfies NodeOut)
          out += (comma ? ',' : '') + s.slice(0, -1) + ',"d":['
          chars += s.length + 8
          rem.push(k)
          tot.push(k)
          top++
        }
        resumed = false
        i++
        items++
        if (rs >= 0 && (i - rs >= RUN_MAX || endsRun(indexes[2 * (i - 1)]))) closeRun(i, true)
        while (top > 0 && rem[top] === 0) {
          if (rs >= 0) closeRun(i, true)
          rem.pop()
          tot.pop()
          top--
          out += ']}'
        }
      }
      if (rs >= 0) {
        // Files of the root's run go on after this slice, unless the tree is done.
        this.cut = i < n
        closeRun(i, i === n)
      }
      this.pos = i
      this.exp = x
      if (i < n) return out
      out += '],"history":['
      this.phase = 2
    }
    if (this.phase === 2) {
      const events = cap.events
      const from = this.ev
      const batch: SnapEvent[] = []
      let j = from
      while (j < events.length && items < maxItems && chars < maxChars) {
        const e = snapEvent(events[j])
        batch.push(e)
        chars += (e.n.value?.length ?? 0) + (e.p?.value?.length ?? 0) + 2 * (e.n.key?.length ?? 0) + 160
        j++
        items++
      }
      if (batch.length > 0) out += (from > 0 ? ',' : '') + JSON.stringify(batch).slice(1, -1)
      this.ev = j
      if (j < events.length) return out
      out += ']}'
      this.phase = 3
      cap.runs?.finish(this.gen)
    }
    return out
  }
}

/** All of a capture at once (tests; the same text as encodeSnapshot of the captured state). */
export function encodeCapture(cap: StoreCapture): string {
  const enc = new SnapshotEncoder(cap)
  let s = ''
  while (!enc.done) s += enc.next()
  return s
}

/** Checks a parsed snapshot's shape and version. Throws on anything but version 1. */
export function checkSnapshot(snap: unknown): SnapshotV1 {
  const o = snap as SnapshotV1 | null
  if (o === null || typeof o !== 'object' || o.version !== 1) {
    throw new Error(`unsupported store snapshot version ${String((o as { version?: unknown } | null)?.version)}`)
  }
  if (!Array.isArray(o.root) || !Array.isArray(o.history)) throw new Error('malformed store snapshot (no root or history)')
  return o
}

/** Parses and checks the version. Throws on anything but version 1. */
export function decodeSnapshot(s: string): SnapshotV1 {
  return checkSnapshot(JSON.parse(s))
}

/** Rebuilds the tree under a new root; `onTtl` is called for every node with an expiration. */
export function buildTree(list: SnapNode[], onTtl: (n: Node) => void): Node {
  const root = new Node('/', '', null, 0, 0, '', new Map(), undefined)
  const fill = (parent: Node, items: SnapNode[]): void => {
    const children = parent.children as Map<string, Node>
    const base = parent.path === '/' ? '' : parent.path
    for (const o of items) {
      const isDir = o.d !== undefined
      const n = new Node(base + '/' + o.k, o.k, parent, o.c, o.m, isDir ? '' : (o.v ?? ''), isDir ? new Map() : null, o.e)
      children.set(o.k, n)
      if (o.e !== undefined) onTtl(n)
      if (o.d !== undefined) fill(n, o.d)
    }
  }
  fill(root, list)
  return root
}

/** The history events, oldest first. */
export function decodeEvents(snap: SnapshotV1): StoreEvent[] {
  return snap.history.map((o) => new StoreEvent(o.a, o.n, o.p, o.i, o.r === 1))
}
