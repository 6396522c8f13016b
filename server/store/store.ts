// The etcd v2 key space as a pure, deterministic state machine: tree, TTLs, CAS, in-order keys,
// hidden keys, watchers, the 1000-event history and the store counters.
// Must not do I/O, read clocks, use timers or randomness: time arrives as `nowMs` arguments and
// indexes only advance by applying commands, so every replica applying the same log agrees.

import { StoreError } from './errors.js'
import { StoreEvent } from './event.js'
import { Listing, ListingViews } from './listing.js'
import { EventHistory } from './event-history.js'
import { Node, cleanKey, nodeJSON, renderForGet, renderPlain } from './node.js'
import { emptyCounters, type Counters } from './stats.js'
import { TtlHeap } from './ttl-heap.js'
import { buildTree, captureBuffers, captureTree, type CaptureBuffers, RunCache, checkSnapshot, decodeEvents, decodeSnapshot, encodeSnapshot, type SnapshotV1, type StoreCapture } from './snapshot.js'
import type { Action, Command, GetOptions, NodeJSON, StoreStats, WatchOptions } from './types.js'
import { WatcherHub, type Watcher } from './watcher-hub.js'

/** ORD-1: in-order names are the index as 20-digit zero-padded decimal. */
function inOrderName(index: number): string {
  return String(index).padStart(20, '0')
}

/** CAS-3 cause text for a failed comparison. */
function compareFailCause(n: Node, prevValue: string, prevIndex: number): string | undefined {
  const valueOk = prevValue === '' || n.value === prevValue
  const indexOk = prevIndex === 0 || n.modifiedIndex === prevIndex
  if (valueOk && indexOk) return undefined
  if (valueOk) return `[${prevIndex} != ${n.modifiedIndex}]`
  if (indexOk) return `[${prevValue} != ${n.value}]`
  return `[${prevValue} != ${n.value}] [${prevIndex} != ${n.modifiedIndex}]`
}

function expireAt(ttlSeconds: number | null | undefined, nowMs: number): number | undefined {
  return typeof ttlSeconds === 'number' && Number.isFinite(ttlSeconds) ? nowMs + ttlSeconds * 1000 : undefined
}

/**
 * The v2 store. All state changes go through `apply` (replicated, deterministic); `get` and
 * `watch` are local reads. Not safe for concurrent use (JS is single-threaded; no awaits inside).
 */
export class Store {
  private root: Node
  private currentIndex = 0
  private heap = new TtlHeap<Node>()
  /** Arrays of a released capture, for the next one (see releaseCapture). */
  private spareCapture: CaptureBuffers | undefined
  /** Encoded runs of files kept from one snapshot to the next (see RunCache). */
  readonly snapshotRuns = new RunCache()
  private history: EventHistory
  private readonly hub: WatcherHub
  private readonly counters: Counters = emptyCounters()
  /** What open listings need to read the tree as of their index. */
  private readonly views = new ListingViews()
  /** Scratch result of the last failed find(). */
  private missCode = 0
  private missCause = ''

  constructor() {
    this.root = new Node('/', '', null, 0, 0, '', new Map(), undefined)
    this.history = new EventHistory()
    this.hub = new WatcherHub(this.history)
  }

  /** The etcd index (CONS-1): incremented by every successful write and by each expiry. */
  get index(): number {
    return this.currentIndex
  }

  /**
   * Applies one replicated command at time `nowMs` (ms since the epoch; may be fractional).
   * Never throws for user errors: returns the event, or a StoreError whose index is the current
   * index. For `expire` and `internal` returns null (expire events go to watchers and the
   * history; see `expire()` for the list). Failed commands change nothing but the fail counters.
   */
  apply(cmd: Command, nowMs: number): StoreEvent | StoreError | null {
    if (cmd.op === 'expire') {
      this.expire(nowMs)
      return null
    }
    if (cmd.op === 'internal') {
      // Recorded as a refresh-flagged event so live delivery and history scans skip it (WATCH-7)
      // while the history keeps one event per index.
      const idx = ++this.currentIndex
      this.hub.notify(new StoreEvent('set', { key: '/0', modifiedIndex: idx, createdIndex: idx }, undefined, idx, true))
      return null
    }
    let kind: Action = 'set'
    try {
      switch (cmd.op) {
        case 'set': {
          const key = cleanKey(cmd.key)
          const prevValue = cmd.prevValue ?? ''
          const prevIndex = cmd.prevIndex ?? 0
          const value = cmd.value ?? ''
          const exp = expireAt(cmd.ttlSeconds, nowMs)
          const refresh = cmd.refresh === true
          // ACT-2 dispatch order.
          if (cmd.prevExist === true) {
            if (prevValue === '' && prevIndex === 0) {
              kind = 'update'
              return this.update(key, value, exp, refresh, nowMs)
            }
            kind = 'compareAndSwap'
            return this.compareAndSwap(key, prevValue, prevIndex, value, exp, refresh, nowMs)
          }
          if (cmd.prevExist === false) {
            kind = 'create'
            return this.create(key, cmd.dir === true, value, false, exp, nowMs)
          }
          if (prevValue !== '' || prevIndex > 0) {
            kind = 'compareAndSwap'
            return this.compareAndSwap(key, prevValue, prevIndex, value, exp, refresh, nowMs)
          }
          return this.set(key, cmd.dir === true, value, exp, refresh, nowMs)
        }
        case 'post':
          kind = 'create'
          return this.create(cleanKey(cmd.key), cmd.dir === true, cmd.value ?? '', true, expireAt(cmd.ttlSeconds, nowMs), nowMs)
        case 'delete': {
          const key = cleanKey(cmd.key)
          const prevValue = cmd.prevValue ?? ''
          const prevIndex = cmd.prevIndex ?? 0
          if (prevValue !== '' || prevIndex > 0) {
            kind = 'compareAndDelete'
            return this.compareAndDelete(key, prevValue, prevIndex, nowMs)
          }
          kind = 'delete'
          return this.delete(key, cmd.dir === true, cmd.recursive === true, nowMs)
        }
        default:
          return new StoreError(300, `unknown store command ${JSON.stringify((cmd as { op?: unknown }).op)}`, 0)
      }
    } catch (err) {
      if (!(err instanceof StoreError)) throw err
      this.countFail(kind)
      return err
    }
  }

  /**
   * The compare failure that applying `cmd` now would answer, without applying it: 101 for a
   * compare-and-swap or compare-and-delete whose prevValue/prevIndex does not match the file, 105
   * for a create (prevExist=false) of a key that exists; undefined for anything else (those
   * commands take the log). With `count`, the failure is added to the fail counters as applying
   * it would. A member answers such a compare from state it read linearizably, without a log entry.
   */
  compareFailure(cmd: Command, count = false): StoreError | undefined {
    if (cmd.op !== 'set' && cmd.op !== 'delete') return undefined
    let failed: StoreError | undefined
    let kind: Action
    if (cmd.op === 'set' && cmd.prevExist === false) {
      kind = 'create'
      const key = cleanKey(cmd.key)
      if (key !== '/' && this.find(key) !== null) failed = new StoreError(105, key, this.currentIndex)
    } else {
      const prevValue = cmd.prevValue ?? ''
      const prevIndex = cmd.prevIndex ?? 0
      // Plain sets and deletes (the hot path) stop here, before any key work.
      if (prevValue === '' && prevIndex <= 0) return undefined
      kind = cmd.op === 'set' ? 'compareAndSwap' : 'compareAndDelete'
      failed = this.compareMismatch(cleanKey(cmd.key), prevValue, prevIndex)
    }
    if (failed !== undefined && count) this.countFail(kind)
    return failed
  }

  /** 101 when `key` is a file that prevValue/prevIndex (at least one given) do not match. */
  private compareMismatch(key: string, prevValue: string, prevIndex: number): StoreError | undefined {
    if (key === '/') return undefined
    const n = this.find(key)
    if (n === null || n.isDir) return undefined
    const cause = compareFailCause(n, prevValue, prevIndex)
    return cause === undefined ? undefined : new StoreError(101, cause, this.currentIndex)
  }

  /**
   * A local read (KEYS-2..6, DIR-2/3, HID-1/4): `ttl` fields computed at `nowMs`. Counts
   * getsSuccess/getsFail. Throws StoreError 100 (missing, cause = first missing path) or 104.
   */
  get(key: string, opts: GetOptions, nowMs: number): StoreEvent {
    const n = this.readNode(key)
    const node = renderForGet(n, opts.recursive === true, opts.sorted === true, nowMs)
    this.counters.getsSuccess++
    return new StoreEvent('get', node, undefined, this.currentIndex)
  }

  /** The node a read names; a failed lookup counts in getsFail. */
  private readNode(key: string): Node {
    try {
      return this.internalGet(cleanKey(key))
    } catch (err) {
      this.counters.getsFail++
      throw err
    }
  }

  /**
   * get() for answers that may be big: a file is a StoreEvent as from get(); a directory is a
   * Listing of its state now, whose text (equal to get()'s body) is produced in slices by
   * next() while this store keeps applying commands. The caller must close() it. Counts and
   * throws as get() does.
   */
  list(key: string, opts: GetOptions, nowMs: number): StoreEvent | Listing {
    const n = this.readNode(key)
    this.counters.getsSuccess++
    if (n.children === null) return new StoreEvent('get', renderPlain(n, nowMs), undefined, this.currentIndex)
    return new Listing(this.views, n, this.currentIndex, opts.recursive === true, opts.sorted === true, nowMs)
  }

  /** Records kept for open listings (see listing.ts); 0 when none is open. */
  get listingRecords(): number {
    return this.views.recordCount
  }

  /** Records kept before the oldest open listing is cut off (default MAX_LISTING_RECORDS). */
  get listingRecordLimit(): number {
    return this.views.limit
  }

  set listingRecordLimit(n: number) {
    this.views.limit = n
  }

  /**
   * Registers a watcher on `key` (WATCH-1..8, 14, 18). `sinceIndex` 0/undefined means current
   * index + 1. If matching events at or after sinceIndex are in the history they are queued at
   * once (a one-shot watcher is then done and never counted). Throws StoreError 401 (HTTP 400)
   * when sinceIndex is older than the history (WATCH-10). Watching a missing key is fine.
   */
  watch(key: string, opts: WatchOptions = {}): Watcher {
    const since = opts.sinceIndex !== undefined && opts.sinceIndex > 0 ? opts.sinceIndex : this.currentIndex + 1
    return this.hub.watch(cleanKey(key), opts.recursive === true, opts.stream === true, since, this.currentIndex)
  }

  /** Registered watchers (cheap; the Raft loop asks on every commit). */
  get watcherCount(): number {
    return this.hub.count
  }

  /** Current store counters in etcd's order (STATS-3). */
  stats(): StoreStats {
    return { ...this.counters, watchers: this.hub.count }
  }

  /** True while any node has a TTL: the leader should then propose `expire` sweeps (TTL-6). */
  hasTtlKeys(): boolean {
    return this.heap.size > 0
  }

  /** Earliest expiration (ms) of any node, or undefined when no node has a TTL. */
  nextExpiryMs(): number | undefined {
    return this.heap.top()?.expireMs
  }

  /**
   * TTL-6: removes every node whose expiration <= nowMs, earliest first (ties in creation order), each as
   * its own `expire` event with a new index; a directory goes with its subtree as one event
   * (TTL-7). Returns the events (oldest first).
   */
  expire(nowMs: number): StoreEvent[] {
    const out: StoreEvent[] = []
    for (;;) {
      const n = this.heap.top()
      if (n === undefined || (n.expireMs as number) > nowMs) break
      const next = ++this.currentIndex
      const prev = renderPlain(n, nowMs)
      const node = nodeJSON(n.path, undefined, n.isDir, undefined, nowMs, undefined, next, n.createdIndex)
      const e = new StoreEvent('expire', node, prev, next)
      this.detach(n, e, next)
      this.counters.expireCount++
      this.hub.notify(e)
      out.push(e)
    }
    return out
  }

  // --- operations (throw StoreError; callers count failures) ---

  /** KEYS-10, KEYS-13, TTL-5 (refresh without prevExist re-creates the node, silently). */
  private set(key: string, dir: boolean, value: string, exp: number | undefined, refresh: boolean, nowMs: number): StoreEvent {
    const prev = this.find(key)
    if (prev === null && (this.missCode !== 100 || refresh)) throw new StoreError(this.missCode, this.missCause, this.currentIndex)
    if (refresh && prev !== null) value = prev.value
    const e = this.internalCreate(key, dir, value, false, true, exp, 'set', refresh, nowMs)
    this.counters.setsSuccess++
    return e
  }

  /** CAS-1, ORD-1..3, DIR-1, DIR-5. */
  private create(key: string, dir: boolean, value: string, unique: boolean, exp: number | undefined, nowMs: number): StoreEvent {
    const e = this.internalCreate(key, dir, value, unique, false, exp, 'create', false, nowMs)
    this.counters.createSuccess++
    return e
  }

  /** CAS-2, TTL-4, TTL-8, DIR-7 (a directory keeps its stored modifiedIndex). */
  private update(key: string, value: string, exp: number | undefined, refresh: boolean, nowMs: number): StoreEvent {
    if (key === '/') throw new StoreError(107, '/', this.currentIndex)
    const n = this.internalGet(key)
    if (n.isDir && value.length !== 0) throw new StoreError(102, key, this.currentIndex)
    if (refresh) value = n.value
    const next = this.currentIndex + 1
    const prev = renderPlain(n, nowMs)
    if (this.views.active) this.views.changing(n, next)
    if (!n.isDir) {
      n.value = value
      n.modifiedIndex = next
    }
    this.updateTtl(n, exp)
    const node = nodeJSON(key, n.isDir ? undefined : value, n.isDir, n.expireMs, nowMs, undefined, next, n.createdIndex)
    this.currentIndex = next
    const e = new StoreEvent('update', node, prev, next, refresh)
    this.hub.notify(e)
    this.counters.updateSuccess++
    return e
  }

  /** CAS-3..5, CAS-8, DIR-8. */
  private compareAndSwap(key: string, prevValue: string, prevIndex: number, value: string, exp: number | undefined, refresh: boolean, nowMs: number): StoreEvent {
    if (key === '/') throw new StoreError(107, '/', this.currentIndex)
    const n = this.internalGet(key)
    if (n.isDir) throw new StoreError(102, key, this.currentIndex)
    const cause = compareFailCause(n, prevValue, prevIndex)
    if (cause !== undefined) throw new StoreError(101, cause, this.currentIndex)
    if (refresh) value = n.value
    const next = this.currentIndex + 1
    const prev = renderPlain(n, nowMs)
    if (this.views.active) this.views.changing(n, next)
    n.value = value
    n.modifiedIndex = next
    this.updateTtl(n, exp)
    const node = nodeJSON(key, value, false, n.expireMs, nowMs, undefined, next, n.createdIndex)
    this.currentIndex = next
    const e = new StoreEvent('compareAndSwap', node, prev, next, refresh)
    this.hub.notify(e)
    this.counters.compareAndSwapSuccess++
    return e
  }

  /** KEYS-16, KEYS-17, DIR-4, DIR-6, DIR-9. */
  private delete(key: string, dir: boolean, recursive: boolean, nowMs: number): StoreEvent {
    if (key === '/') throw new StoreError(107, '/', this.currentIndex)
    if (recursive) dir = true
    const n = this.internalGet(key)
    if (n.children !== null) {
      if (!dir) throw new StoreError(102, key, this.currentIndex)
      if (n.children.size !== 0 && !recursive) throw new StoreError(108, key, this.currentIndex)
    }
    const next = this.currentIndex + 1
    const prev = renderPlain(n, nowMs)
    const node = nodeJSON(key, undefined, n.isDir, undefined, nowMs, undefined, next, n.createdIndex)
    const e = new StoreEvent('delete', node, prev, next)
    this.detach(n, e, next)
    this.currentIndex = next
    this.hub.notify(e)
    this.counters.deleteSuccess++
    return e
  }

  /** CAS-6, CAS-8 (the root answers 102 without a cause, like etcd). */
  private compareAndDelete(key: string, prevValue: string, prevIndex: number, nowMs: number): StoreEvent {
    const n = this.internalGet(key)
    if (n.isDir) throw new StoreError(102, key === '/' ? '' : key, this.currentIndex)
    const cause = compareFailCause(n, prevValue, prevIndex)
    if (cause !== undefined) throw new StoreError(101, cause, this.currentIndex)
    const next = this.currentIndex + 1
    const prev = renderPlain(n, nowMs)
    const node = nodeJSON(key, undefined, false, undefined, nowMs, undefined, next, n.createdIndex)
    const e = new StoreEvent('compareAndDelete', node, prev, next)
    this.detach(n, e, next)
    this.currentIndex = next
    this.hub.notify(e)
    this.counters.compareAndDeleteSuccess++
    return e
  }

  // --- tree helpers ---

  /** Walks to `path` (cleaned). 100 with the first missing path as cause; 104 through a file. */
  private internalGet(path: string): Node {
    const n = this.find(path)
    if (n === null) throw new StoreError(this.missCode, this.missCause, this.currentIndex)
    return n
  }

  /**
   * Non-throwing walk (errors are costly on the hot path of creating new keys): the node, or null
   * with missCode/missCause describing the failure (100 first missing path, 104 file on the way).
   */
  private find(path: string): Node | null {
    let n = this.root
    if (path === '/') return n
    let i = 1
    for (;;) {
      const j = path.indexOf('/', i)
      if (n.children === null) {
        this.missCode = 104
        this.missCause = n.path
        return null
      }
      const child = n.children.get(j < 0 ? path.slice(i) : path.slice(i, j))
      if (child === undefined) {
        this.missCode = 100
        this.missCause = j < 0 ? path : path.slice(0, j)
        return null
      }
      n = child
      if (j < 0) return n
      i = j + 1
    }
  }

  /**
   * Creates a file or directory at `path`, creating missing parents (KEYS-12). `unique` appends
   * the in-order name (ORD-1). `replace` allows replacing an existing file (set); otherwise an
   * existing node is 105. The root is 107; a file on the way is 104; replacing a directory is 102.
   */
  private internalCreate(
    path: string, dir: boolean, value: string, unique: boolean, replace: boolean,
    exp: number | undefined, action: 'set' | 'create', refresh: boolean, nowMs: number,
  ): StoreEvent {
    const next = this.currentIndex + 1
    if (unique) path = (path === '/' ? '' : path) + '/' + inOrderName(next)
    if (path === '/') throw new StoreError(107, '/', this.currentIndex)
    const slash = path.lastIndexOf('/')
    const nodeName = path.slice(slash + 1)
    // Walk (and create) the parent directories. Nothing is created before a failure: once a
    // component is missing, everything below it is new.
    let d = this.root
    let i = 1
    while (i <= slash) {
      const j = path.indexOf('/', i)
      const seg = path.slice(i, j)
      const children = d.children as Map<string, Node>
      let c = children.get(seg)
      if (c === undefined) {
        c = new Node(path.slice(0, j), seg, d, next, next, '', new Map(), undefined)
        children.set(seg, c)
      } else if (c.children === null) {
        throw new StoreError(104, c.path, this.currentIndex)
      }
      d = c
      i = j + 1
    }
    const children = d.children as Map<string, Node>
    const existing = children.get(nodeName)
    let prev: NodeJSON | undefined
    if (existing !== undefined) {
      if (!replace) throw new StoreError(105, path, this.currentIndex)
      if (existing.isDir) throw new StoreError(102, path, this.currentIndex)
      prev = renderPlain(existing, nowMs)
      this.detach(existing, null, next)
    }
    const n = new Node(path, nodeName, d, next, next, dir ? '' : value, dir ? new Map() : null, exp)
    children.set(nodeName, n)
    if (exp !== undefined) this.heap.push(n)
    const node = nodeJSON(path, dir ? undefined : value, dir, exp, nowMs, undefined, next, next)
    this.currentIndex = next
    const e = new StoreEvent(action, node, prev, next, refresh)
    this.hub.notify(e)
    return e
  }

  /** TTL-4: a new expiration, or none (permanent). */
  private updateTtl(n: Node, exp: number | undefined): void {
    n.expireMs = exp
    if (exp === undefined) this.heap.remove(n)
    else this.heap.update(n)
  }

  /**
   * Unlinks `n` from its parent and drops the pending expiries of its whole subtree (TTL-4,
   * DIR-4). With an event, watchers registered at each removed descendant path get it (DIR-9);
   * watchers at `n` itself and above are reached by hub.notify. `at`: the index of the removal.
   */
  private detach(n: Node, e: StoreEvent | null, at: number): void {
    const parent = n.parent as Node
    parent.children?.delete(n.name)
    if (this.views.active) this.views.removing(parent, n, at)
    n.parent = null
    this.heap.remove(n)
    if (n.children !== null && n.children.size !== 0 && (this.heap.size > 0 || (e !== null && this.hub.count > 0))) {
      for (const c of n.children.values()) this.detachSubtree(c, e)
    }
  }

  private detachSubtree(n: Node, e: StoreEvent | null): void {
    if (n.children !== null) for (const c of n.children.values()) this.detachSubtree(c, e)
    this.heap.remove(n)
    if (e !== null && this.hub.count > 0) this.hub.notifyDeleted(e, n.path)
  }

  private countFail(kind: Action): void {
    const c = this.counters
    switch (kind) {
      case 'set': c.setsFail++; break
      case 'create': c.createFail++; break
      case 'update': c.updateFail++; break
      case 'compareAndSwap': c.compareAndSwapFail++; break
      case 'delete': c.deleteFail++; break
      case 'compareAndDelete': c.compareAndDeleteFail++; break
      default: break
    }
  }

  // --- snapshots ---

  /**
   * Deterministic JSON of the tree (children in insertion order, TTLs as absolute ms), the index
   * and the retained event history (CONS-4, WATCH-10). Counters and watchers are member-local and
   * not included (STATS-3). Equal stores give byte-equal snapshots.
   */
  toSnapshot(): string {
    return encodeSnapshot(this.root, this.currentIndex, this.history.events())
  }

  /**
   * A point-in-time copy of the snapshot state (one pass over the tree, no string work), for
   * encoding in slices with SnapshotEncoder while the store keeps applying commands: the text is
   * byte-equal to what toSnapshot() returned at the time of the capture.
   */
  captureSnapshot(): StoreCapture {
    const spare = this.spareCapture
    this.spareCapture = undefined
    return captureTree(this.root, this.currentIndex, this.history.events(), spare, this.snapshotRuns)
  }

  /**
   * Hands back a capture whose encoding is finished (or abandoned): its arrays are reused by the
   * next captureSnapshot(). The capture must not be read afterwards.
   */
  releaseCapture(cap: StoreCapture): void {
    this.spareCapture = captureBuffers(cap)
  }

  /** Rebuilds a store from toSnapshot() output (indexes continue from the snapshot's). */
  static fromSnapshot(s: string): Store {
    const st = new Store()
    st.recover(s)
    return st
  }

  /**
   * Replaces tree, index, TTLs and history with a snapshot's, in place (a follower installing a
   * snapshot). Registered watchers stay registered and keep receiving events with index >= their
   * sinceIndex, as etcd's store recovery keeps its watcher hub. Counters are kept (member-local).
   * Throws on a snapshot of an unknown version (nothing is changed then).
   */
  recover(s: string): void {
    this.install(decodeSnapshot(s))
  }

  /**
   * recover() from the already parsed JSON of a snapshot (one embedded in a larger document, so
   * the text is parsed once). Throws on an unknown version (nothing is changed then).
   */
  recoverParsed(snap: unknown): void {
    this.install(checkSnapshot(snap))
  }

  private install(snap: SnapshotV1): void {
    this.snapshotRuns.clear()
    const heap = new TtlHeap<Node>()
    this.root = buildTree(snap.root, (n) => heap.push(n))
    this.heap = heap
    this.history = new EventHistory()
    this.hub.history = this.history
    this.currentIndex = snap.index
    for (const e of decodeEvents(snap)) this.history.add(e)
  }
}
