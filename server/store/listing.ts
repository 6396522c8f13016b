// Directory listings (GET of a directory) encoded lazily from the live tree, a bounded slice at a
// time, while the store keeps applying writes: the answer is still the state at one index, as
// etcd's is, without copying the subtree per request.
//
// How the state at index I is read from a tree that changes meanwhile: while any listing is open
// the store records, for each change, only what a reader needs to undo it (ListingViews):
// - a node's value/modifiedIndex/expiration before an update or compare-and-swap;
// - a child removed from a directory (the detached node keeps its fields and its subtree, so it
//   still is the state of that branch as of its removal).
// A node created after I (createdIndex > I) is skipped; a node removed after I is listed from the
// removal records, in its place. A live Map iterator visits the children that are present when it
// reaches them, in insertion (= `seq`) order: a child removed after the iterator passed it was
// already listed, one removed before is merged back in by `seq` (the store tells open listings of
// each removal), so the order is the order at I too. The records cost memory only for what
// changes while a listing is open, and go once no listing needs them.
// Pure; no timers or I/O (the HTTP layer runs the slices).

import { goFixups } from './json.js'
import { compareKeys, nodeJSON, type Node } from './node.js'
import { SlicedSort } from './sliced-sort.js'

/** A node's changeable fields. */
interface Fields {
  value: string
  modifiedIndex: number
  expireMs: number | undefined
}

/** A node's fields as they were before a change at index `at`. */
interface OldFields extends Fields {
  at: number
}

/** A child removed from a directory at index `at`. */
interface Removal {
  at: number
  node: Node
}

/** Records of one node, oldest first; `head` skips the pruned ones. */
class Records<T> {
  items: T[] = []
  head = 0
}

/**
 * Change records kept for open listings before the oldest listing is cut off (measured: ~380
 * bytes each when every change is on another node, so ~40 MB at the limit): a reader that stops
 * reading must not make the store keep every later change.
 */
export const MAX_LISTING_RECORDS = 100_000

/** The store's side: which listings are open and what changed since the oldest one began. */
export class ListingViews {
  /** See MAX_LISTING_RECORDS. */
  limit = MAX_LISTING_RECORDS
  private readonly open = new Set<Listing>()
  private readonly olds = new Map<Node, Records<OldFields>>()
  private readonly removals = new Map<Node, Records<Removal>>()
  /** Every record in index order (for pruning): the node (or directory) and which kind. */
  private queue: { at: number; node: Node; removal: boolean }[] = []
  private qHead = 0

  /** True while some listing is open: the store must then report changes. */
  get active(): boolean {
    return this.open.size > 0
  }

  /** Records held now (tests, metrics). */
  get recordCount(): number {
    return this.queue.length - this.qHead
  }

  /** Called before `n`'s value, modifiedIndex or expiration change at index `at`. */
  changing(n: Node, at: number): void {
    let r = this.olds.get(n)
    if (r === undefined) this.olds.set(n, (r = new Records()))
    r.items.push({ at, value: n.value, modifiedIndex: n.modifiedIndex, expireMs: n.expireMs })
    this.queue.push({ at, node: n, removal: false })
    this.bound()
  }

  /** Called when `n` leaves directory `dir` at index `at`. */
  removing(dir: Node, n: Node, at: number): void {
    let r = this.removals.get(dir)
    if (r === undefined) this.removals.set(dir, (r = new Records()))
    r.items.push({ at, node: n })
    this.queue.push({ at, node: dir, removal: true })
    for (const l of this.open) l.noteRemoval(dir, n)
    this.bound()
  }

  /** Cuts off the oldest open listings while the records exceed the limit. */
  private bound(): void {
    while (this.recordCount > this.limit && this.open.size > 0) {
      let oldest: Listing | undefined
      for (const o of this.open) if (oldest === undefined || o.etcdIndex < oldest.etcdIndex) oldest = o
      ;(oldest as Listing).cut()
    }
  }

  /** `n`'s fields as they were at `index` (n existed then). */
  fieldsAt(n: Node, index: number): Fields {
    if (this.olds.size === 0) return n
    const r = this.olds.get(n)
    if (r === undefined) return n
    for (let x = r.head; x < r.items.length; x++) if (r.items[x].at > index) return r.items[x]
    return n
  }

  /** Children of `dir` that existed at `index` and were removed after it. */
  removedAfter(dir: Node, index: number): Node[] {
    const r = this.removals.get(dir)
    if (r === undefined) return []
    const out: Node[] = []
    for (let x = r.head; x < r.items.length; x++) {
      const { at, node } = r.items[x]
      if (at > index && node.createdIndex <= index) out.push(node)
    }
    return out
  }

  opened(l: Listing): void {
    this.open.add(l)
  }

  closed(l: Listing): void {
    if (!this.open.delete(l)) return
    if (this.open.size === 0) {
      this.olds.clear()
      this.removals.clear()
      this.queue = []
      this.qHead = 0
      return
    }
    // Records of changes at or before the oldest open listing's index are no reader's business.
    let oldest = Infinity
    for (const o of this.open) oldest = Math.min(oldest, o.etcdIndex)
    const q = this.queue
    while (this.qHead < q.length && q[this.qHead].at <= oldest) {
      const { node, removal } = q[this.qHead++]
      const map: Map<Node, Records<unknown>> = removal ? this.removals : this.olds
      const r = map.get(node) as Records<unknown>
      if (++r.head === r.items.length) map.delete(node)
      else if (r.head > 1024 && r.head * 2 > r.items.length) {
        r.items = r.items.slice(r.head)
        r.head = 0
      }
    }
    if (this.qHead > 1024 && this.qHead * 2 > q.length) {
      this.queue = q.slice(this.qHead)
      this.qHead = 0
    }
  }
}

/** One open directory of a listing. */
interface Frame {
  dir: Node
  /** Children that are directories are listed with their own children (recursive GET). */
  deep: boolean
  /** The live iteration over dir's children; undefined once it ended. */
  it: Iterator<Node> | undefined
  /** seq of the last child the iteration reached. */
  lastSeq: number
  /** The next visible child from the iteration, not yet listed. */
  ahead: Node | undefined
  /** Visible children removed before the iteration reached them, by seq; listed from `pendingPos`. */
  pending: Node[]
  pendingPos: number
  /** Sorted listings: the children, collected by the iteration, then sorted and listed. */
  rest: Node[] | undefined
  sorter: SlicedSort<Node> | undefined
  /** Some collected name has a character where UTF-16 and UTF-8 order differ. */
  wideNames: boolean
  pos: number
  /** A child was written (`"nodes":[` is open). */
  any: boolean
}

/** Node visits per slice, besides the character bound (hidden or new children write nothing). */
const SLICE_VISITS = 8192
/** Comparisons per slice while sorting a directory's children. */
const SLICE_COMPARES = 32 * 1024

/** Names with a character from U+D800 up, where UTF-16 order is not Go's (UTF-8) order. */
const WIDE = /[\ud800-\uffff]/
/** Go's order of names (KEYS-5): within one directory, the order of the keys. */
const byName = (a: Node, b: Node): number => compareKeys(a.name, b.name)
/** The same order for names without WIDE characters, by V8's own (faster) string comparison. */
const byNameNarrow = (a: Node, b: Node): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)

/**
 * The body of a GET of a directory (`{"action":"get","node":{...}}`, without the final newline),
 * byte-equal to StoreEvent.body() of the eagerly rendered answer at the same index, produced by
 * next() in slices. Must be closed (close()) once written or abandoned: until then the store keeps
 * the records it needs.
 */
export class Listing {
  /** X-Etcd-Index of the answer: the index whose state is listed. */
  readonly etcdIndex: number
  readonly status = 200
  private readonly stack: Frame[] = []
  private started = false
  private finished = false
  private isClosed = false
  private isCut = false

  constructor(
    private readonly views: ListingViews,
    private readonly top: Node,
    index: number,
    private readonly recursive: boolean,
    private readonly sorted: boolean,
    private readonly nowMs: number,
  ) {
    this.etcdIndex = index
    views.opened(this)
  }

  get done(): boolean {
    return this.finished
  }

  /** Ends the listing early (too many changes while it was open): next() then throws. */
  cut(): void {
    this.isCut = true
    this.close()
  }

  /** Releases the store's records for this listing (idempotent). */
  close(): void {
    if (this.isClosed) return
    this.isClosed = true
    this.views.closed(this)
  }

  /** The store's notice that `n` left `dir`: if the iteration of dir has not reached it yet, it is merged back in. */
  noteRemoval(dir: Node, n: Node): void {
    for (const f of this.stack) {
      if (f.dir !== dir) continue
      if (f.it !== undefined && n.seq > f.lastSeq && n.createdIndex <= this.etcdIndex && !n.isHidden) {
        const p = f.pending
        let lo = f.pendingPos
        let hi = p.length
        while (lo < hi) {
          const mid = (lo + hi) >>> 1
          if (p[mid].seq < n.seq) lo = mid + 1
          else hi = mid
        }
        p.splice(lo, 0, n)
      }
      return
    }
  }

  /**
   * The next piece of the body, about `maxChars` long (longer by at most one node's text), after a
   * bounded amount of work; may be '' while a big directory is being sorted. '' once done.
   * Throws once the listing was cut off (see MAX_LISTING_RECORDS).
   */
  next(maxChars: number): string {
    if (this.isCut) throw new Error(`listing at index ${this.etcdIndex} cut off: more than ${this.views.limit} changes while it was read`)
    if (this.finished) return ''
    let out = ''
    if (!this.started) {
      this.started = true
      out = '{"action":"get","node":' + this.head(this.top)
      this.push(this.top, this.recursive)
    }
    let visits = 0
    const stack = this.stack
    while (stack.length > 0 && out.length < maxChars && visits < SLICE_VISITS) {
      const f = stack[stack.length - 1]
      let child: Node | undefined
      if (f.it !== undefined) {
        visits++
        if (f.ahead === undefined) {
          const r = f.it.next()
          if (!r.done) {
            const n = r.value
            f.lastSeq = n.seq
            if (n.createdIndex <= this.etcdIndex && !n.isHidden) f.ahead = n
            continue
          }
        }
        // The next child in the order at I: the live one, or one removed since that came before it.
        if (f.pendingPos < f.pending.length && (f.ahead === undefined || f.pending[f.pendingPos].seq < f.ahead.seq)) {
          child = f.pending[f.pendingPos++]
        } else if (f.ahead !== undefined) {
          child = f.ahead
          f.ahead = undefined
        } else {
          f.it = undefined
          f.pending = []
          if (this.sorted) f.sorter = new SlicedSort(f.rest ?? [], f.wideNames ? byName : byNameNarrow)
          continue
        }
        if (this.sorted) {
          ;(f.rest ??= []).push(child)
          if (!f.wideNames && WIDE.test(child.name)) f.wideNames = true
          continue
        }
      } else if (f.sorter !== undefined) {
        // One bounded step of sorting per slice.
        const sortedNow = f.sorter.step(SLICE_COMPARES)
        if (sortedNow) {
          f.rest = f.sorter.result
          f.sorter = undefined
        }
        if (!sortedNow || out.length > 0) break
        continue
      } else if (f.rest !== undefined && f.pos < f.rest.length) {
        child = f.rest[f.pos++]
        visits++
      } else {
        out += (f.any ? ']' : '') + this.tail(f.dir)
        stack.pop()
        if (stack.length === 0) {
          out += '}'
          this.finished = true
        }
        continue
      }
      out += f.any ? ',' : ',"nodes":['
      f.any = true
      if (child.children !== null && f.deep) {
        out += this.head(child)
        this.push(child, true)
      } else {
        out += this.plain(child)
      }
    }
    // Pieces end between tokens, so the escapes are rewritten whole.
    return goFixups(out)
  }

  private push(dir: Node, deep: boolean): void {
    const children = dir.children as Map<string, Node>
    const pending = this.views.removedAfter(dir, this.etcdIndex).filter((n) => !n.isHidden).sort((a, b) => a.seq - b.seq)
    this.stack.push({ dir, deep, it: children.values(), lastSeq: -1, ahead: undefined, pending, pendingPos: 0, rest: undefined, sorter: undefined, wideNames: false, pos: 0, any: false })
  }

  /** A directory's JSON up to where `nodes` would go: `{"key":..,"dir":true[,"expiration":..,"ttl":..]`. */
  private head(dir: Node): string {
    const f = this.views.fieldsAt(dir, this.etcdIndex)
    const s = JSON.stringify(nodeJSON(dir.path, undefined, true, f.expireMs, this.nowMs, undefined, 0, 0))
    return s.slice(0, -1)
  }

  /** The rest of a directory's JSON after `nodes`: its indexes (none for the root) and `}`. */
  private tail(dir: Node): string {
    const m = this.views.fieldsAt(dir, this.etcdIndex).modifiedIndex
    const c = dir.createdIndex
    return (m !== 0 ? ',"modifiedIndex":' + m : '') + (c !== 0 ? ',"createdIndex":' + c : '') + '}'
  }

  /** A file, or a directory without its children (NODE-4). */
  private plain(n: Node): string {
    const f = this.views.fieldsAt(n, this.etcdIndex)
    const file = n.children === null
    return JSON.stringify(nodeJSON(n.path, file ? f.value : undefined, !file, f.expireMs, this.nowMs, undefined, f.modifiedIndex, n.createdIndex))
  }
}
