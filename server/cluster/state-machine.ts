// The replicated state machine: the v2 store plus the membership table, fed committed Raft
// entries in log order. Deterministic: time comes from the proposer's stamp inside each entry.
// No I/O here; the driver (raft-driver.ts) persists and snapshots. snapshotDataAsync() only
// yields to the event loop (setImmediate, or the driver's clock) between its encoding slices.
import { SnapshotEncoder, Store, StoreError, type StoreEvent, type Command } from '../store/index.js'
import { EntryType, type ConfChange, type Entry, type NodeId } from '../raft/types.js'
import { Membership, type MemberContext, type MembershipJSON } from './membership.js'
import { AuthState, type AuthJSON, type AuthMutation, type AuthResult } from '../auth/auth-state.js'

/** What a Normal entry carries (JSON). Empty data is the leader's no-op of a new term. */
export type Payload =
  /** A store command stamped with the proposer's clock (ms) and the proposing member + request id. */
  | { k: 'cmd'; t: number; c: Command; r?: string }
  /** A member publishes its name and client URLs after it starts (MEM-1). */
  | { k: 'attr'; id: NodeId; name: string; clientURLs: string[]; r?: string }
  /** A v2 auth change (server/auth); passwords in it are already hashed by the proposer. */
  | { k: 'auth'; m: AuthMutation; r?: string }

/** The outcome of applying one entry, handed to whoever waits on the entry's request id. */
export type ApplyResult = StoreEvent | StoreError | AuthResult | null

/**
 * Snapshot data. Format 2 (written now): `{"v":2,"membership":...,"auth":...,"store":<store JSON>}`,
 * the store's snapshot embedded as JSON, built by concatenation (never re-encoded) and parsed in one
 * go. Format 1 (data dirs written before): `{"store":"<store JSON as a string>",...}` without `v`.
 */
interface SnapshotData {
  v?: 2
  /** Format 1: the store snapshot text; format 2: its parsed JSON. */
  store: string | object
  membership: MembershipJSON
  /** Absent in snapshots written before auth existed. */
  auth?: AuthJSON
}

/** What snapshotDataAsync() produced. */
export interface SnapshotText {
  /** The snapshot data (a rope of `pieces`: not flattened into one buffer yet). */
  data: string
  /** The data in pieces (concatenated they are `data`): lets a writer avoid flattening it. */
  pieces: string[]
  /** Synchronous capture at the call, ms. */
  captureMs: number
  /** Encoding slices run (each followed by a turn of the event loop). */
  slices: number
  /** Longest single encoding slice, ms (the capture is captureMs). */
  longestSliceMs: number
  /** Time spent encoding, ms (without the waits between slices). */
  encodeMs: number
}

export interface SnapshotAsyncOptions {
  /** Checked between slices: true abandons the encoding (the promise resolves undefined). */
  cancelled?: () => boolean
  /** Runs the next slice after a turn of the event loop (default setImmediate). */
  yieldTo?: (fn: () => void) => void
  /** Bounds of one slice (defaults: the store's SLICE_ITEMS / SLICE_CHARS). */
  sliceItems?: number
  sliceChars?: number
}

function dataHead(membership: Membership, auth: AuthState): string {
  return '{"v":2,"membership":' + JSON.stringify(membership.toJSON()) + ',"auth":' + JSON.stringify(auth.toJSON()) + ',"store":'
}

export class StateMachine {
  store: Store
  membership: Membership
  /** Users, roles and the auth switch (replicated like the store). */
  auth = new AuthState()
  /** Index of the last entry applied. Invariant: never decreases. */
  appliedIndex = 0
  appliedTerm = 0

  constructor(store = new Store(), membership = new Membership()) {
    this.store = store
    this.membership = membership
  }

  /**
   * Applies a Normal entry. Returns the request id (if any) and its result.
   * ConfChange entries are applied by the driver through applyConfChange, which also tells Raft.
   */
  applyNormal(e: Entry): { requestId?: string; result: ApplyResult } {
    this.markApplied(e)
    if (e.data === '') return { result: null }
    const p = JSON.parse(e.data) as Payload
    if (p.k === 'cmd') return { requestId: p.r, result: this.store.apply(p.c, p.t) }
    if (p.k === 'auth') {
      const result = this.auth.apply(p.m)
      // etcd keeps auth data in its v2 store, so a change consumes an etcd index (CONS-1).
      if (result.changed) this.internalWrite()
      return { requestId: p.r, result }
    }
    if (p.k === 'attr') {
      this.membership.setAttributes(p.id, p.name, p.clientURLs)
      this.internalWrite()
      // The first published member also settles the cluster version, as etcd does (CONS-1).
      if (!this.membership.clusterVersionSet) {
        this.membership.clusterVersionSet = true
        this.internalWrite()
      }
    }
    return { requestId: p.r, result: null }
  }

  /** Applies a committed membership change to the table (Raft's own view is updated by the driver). */
  applyConfChange(e: Entry, cc: ConfChange): void {
    this.markApplied(e)
    const ctx: MemberContext = cc.context ? (JSON.parse(cc.context) as MemberContext) : { peerURLs: [] }
    if (cc.type === 'add') this.membership.add(cc.id, ctx)
    else if (cc.type === 'remove') this.membership.remove(cc.id)
    else if (cc.type === 'update') this.membership.updatePeerURLs(cc.id, ctx.peerURLs)
    this.internalWrite()
  }

  /**
   * etcd keeps membership in its v2 store, so member changes and publishes consume etcd indexes
   * (CONS-1: a fresh member reports index 3). We keep the data outside the key space but consume
   * the index the same way, so index arithmetic matches etcd's.
   */
  private internalWrite(): void {
    this.store.apply({ op: 'internal' }, 0)
  }

  private markApplied(e: Entry): void {
    if (e.index <= this.appliedIndex) throw new Error(`apply out of order: ${e.index} after ${this.appliedIndex}`)
    this.appliedIndex = e.index
    this.appliedTerm = e.term
  }

  /** Serialises store, membership and auth for a Raft snapshot (synchronously: stalls on a big store). */
  snapshotData(): string {
    return dataHead(this.membership, this.auth) + this.store.toSnapshot() + '}'
  }

  /**
   * The same data as snapshotData() returns now, without stalling: the state is captured
   * synchronously in this call (a cheap copy; later applies do not change the result), then encoded
   * in bounded slices with a turn of the event loop (setImmediate) after each.
   */
  snapshotDataAsync(opts: SnapshotAsyncOptions = {}): Promise<SnapshotText | undefined> {
    const t0 = performance.now()
    const head = dataHead(this.membership, this.auth)
    const store = this.store
    const cap = store.captureSnapshot()
    const enc = new SnapshotEncoder(cap)
    const captureMs = performance.now() - t0
    const pieces = [head]
    let data = head
    let slices = 0
    let longest = 0
    let encodeMs = 0
    const yieldTo = opts.yieldTo ?? ((fn: () => void): void => void setImmediate(fn))
    return new Promise((resolve, reject) => {
      const step = (): void => {
        try {
          if (opts.cancelled?.()) {
            store.releaseCapture(cap)
            return resolve(undefined)
          }
          const t = performance.now()
          const piece = enc.next(opts.sliceItems, opts.sliceChars)
          const ms = performance.now() - t
          slices++
          encodeMs += ms
          if (ms > longest) longest = ms
          if (piece !== '') {
            pieces.push(piece)
            data += piece
          }
          if (!enc.done) return yieldTo(step)
          pieces.push('}')
          data += '}'
          store.releaseCapture(cap)
          resolve({ data, pieces, captureMs, slices, longestSliceMs: longest, encodeMs })
        } catch (e) {
          reject(e)
        }
      }
      yieldTo(step)
    })
  }

  /** Replaces the state with a snapshot's (a follower installing one, or a restart). Reads both formats. */
  restore(data: string, index: number, term: number): void {
    const d = JSON.parse(data) as SnapshotData
    if (typeof d.store === 'string') this.store.recover(d.store) // format 1; in place: registered watchers survive (CONS-4)
    else if (d.v === 2) this.store.recoverParsed(d.store)
    else throw new Error(`unsupported snapshot data version ${String(d.v)}`)
    this.membership = Membership.fromJSON(d.membership)
    this.auth = AuthState.fromJSON(d.auth)
    this.appliedIndex = index
    this.appliedTerm = term
  }
}

export function isConfChange(e: Entry): boolean {
  return e.type === EntryType.ConfChange
}
