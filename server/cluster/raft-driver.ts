// The Ready loop of a member: the one place where the consensus core meets I/O (etcd keeps this
// apart from the server as raftNode). It gets its clock, its durable log (WAL + snapshots), its
// transport and its state machine injected, so the member and the seeded simulation run this same
// code. Each Ready is persisted, sent and applied in the order chosen below, then advanced.
// Proposals and reads made during one event-loop turn are batched into one Raft append / one
// ReadIndex round, and each Ready costs at most one fdatasync (group commit).
// Any change to the order in handleReady/run must pass the driver simulation
// (`npm run test:driver-sim`, test/harness/driver-sim.ts) and a soak (`npm run soak:driver`).
import { RawNode } from '../raft/raw-node.js'
import { MemoryStorage } from '../raft/storage.js'
import { ProposalDroppedError } from '../raft/errors.js'
import { decodeConfChange } from '../raft/raft.js'
import { EntryType, NONE, Role, type ConfChange, type Entry, type Message, type NodeId, type Ready, type Snapshot, type SoftState } from '../raft/types.js'
import type { BootState, PersistBatch } from '../wal/storage.js'
import type { StateMachine } from './state-machine.js'
import type { Transport } from '../transport/transport.js'
import { Waiters, expireList, type Waiter } from './waiters.js'
import { RequestTimeoutError, StoppedError, StorageFailedError, UnexpectedResultError } from './errors.js'

/** Time and scheduling. Production: Date.now, setImmediate, setInterval. */
export interface DriverClock {
  now(): number
  /** Runs fn after the current task and its microtasks (setImmediate). */
  soon(fn: () => void): void
  /** Runs fn every ms; the returned function cancels. */
  every(ms: number, fn: () => void): () => void
}

export const systemClock: DriverClock = {
  now: Date.now,
  soon: (fn) => void setImmediate(fn),
  every: (ms, fn) => {
    const t = setInterval(fn, ms)
    return () => clearInterval(t)
  },
}

/** The durable log (server/wal DurableStorage has this shape). */
export interface DurableLog {
  readonly boot: BootState
  /** Persists a Ready's snapshot, entries and hard state; durable on return when mustSync or a snapshot is set. */
  persist(b: PersistBatch): Promise<void>
  /** Saves our own snapshot beside persist() calls (they do not wait for it). */
  saveSnapshot(snap: Snapshot, opts?: { dataChunks?: string[] }): Promise<void>
  close(): Promise<void>
}

/** The outgoing half of the peer transport (the one Transport seam, server/transport/transport.ts). */
export type DriverTransport = Pick<Transport, 'send' | 'flushNow'>

export interface DriverOptions {
  id: NodeId
  clock: DriverClock
  durable: DurableLog
  transport: DriverTransport
  /** The state machine entries are applied to (restored here from the boot snapshot). */
  sm: StateMachine
  /** Members of a brand-new cluster, with their conf-change contexts; ignored on restart. */
  bootstrap?: { id: NodeId; context: string }[]
  heartbeatMs: number
  electionMs: number
  /** Pre-vote before elections (--pre-vote); default true. */
  preVote?: boolean
  /**
   * Applied entries between our own snapshots. A snapshot also waits until the entries applied
   * since the last one add up to SNAPSHOT_LOG_FRACTION of its size (see maybeSnapshot).
   */
  snapshotCount: number
  /** Entries kept in memory behind a snapshot so slow followers can catch up without one. */
  snapshotCatchUpEntries?: number
  /** Proposal and quorum-read timeout. */
  requestTimeoutMs: number
  /** Seeded randomness for election timeouts. */
  random: () => number
  /** Called after the leader or the role changed. */
  onSoftState?(ss: SoftState, previousLead: NodeId): void
  /** A committed ConfChange was applied (Raft and the membership table). */
  onConfApplied?(e: Entry, cc: ConfChange, ctx: { r?: string; peerURLs?: string[] }): void
  /** A snapshot from the leader was installed. */
  onSnapshotInstalled?(snap: Snapshot): void
  /** Called on every tick, before the loop runs (the member publishes itself from here). */
  onTick?(now: number): void
  /** The log or a snapshot save failed: the loop stopped, every waiter failed. */
  onFatal?(err: unknown): void
  log?(level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void
  /** Cheap metric hooks. */
  proposalsFailed?(n: number): void
  snapshotSaved?(seconds: number): void
}

/**
 * A snapshot rewrites the whole state; the log it replaces must have grown by at least this
 * fraction of the last snapshot's size first (in characters of entry data). With a small state this
 * never delays a snapshot past snapshotCount entries; with a large, mostly unchanging one (a million
 * keys, a few hot ones written) it bounds the bytes snapshots write to a few times the log's,
 * instead of the whole state every snapshotCount small writes.
 */
export const SNAPSHOT_LOG_FRACTION = 0.25

/** A proposal waiting for a leader; r is the request id whose waiter expects it (if any). */
interface QueuedProposal {
  data: string
  r?: string
}

interface ReadBatch {
  waiters: Waiter<void>[]
  issuedAt: number
  /** Set when the ReadState arrived: serve once applied >= index. */
  index?: number
}

export class RaftDriver {
  readonly raw: RawNode
  private readonly storage = new MemoryStorage()
  private readonly sm: StateMachine
  private readonly clock: DriverClock
  private readonly durable: DurableLog
  private readonly transport: DriverTransport
  readonly waiters = new Waiters()

  private reqSeq = 0
  private readonly reqPrefix: string
  /** Proposals not yet handed to Raft (batched per loop turn, kept while no leader is known). */
  private proposalQueue: QueuedProposal[] = []
  private readQueue: Waiter<void>[] = []
  private readSeq = 0
  private readonly readsInFlight = new Map<string, ReadBatch>()

  private scheduled = false
  private busy = false
  private closed = false
  private fatal: unknown
  private idleWaiters: (() => void)[] = []
  private stopTick: (() => void) | undefined
  private lastSnapshotIndex = 0
  /** Size of the newest snapshot (ours, installed or booted from), in characters. */
  private lastSnapshotChars = 0
  /** Characters of entry data applied since the newest snapshot's state was captured. */
  private appliedCharsSinceSnapshot = 0
  /** Our own snapshot being encoded and written (at most one; see maybeSnapshot). Never rejects. */
  private snapshotInFlight: Promise<void> | undefined
  private lead: NodeId = NONE
  private readonly runBound = (): void => void this.run()

  constructor(private readonly opts: DriverOptions) {
    this.clock = opts.clock
    this.durable = opts.durable
    this.transport = opts.transport
    this.sm = opts.sm
    this.reqPrefix = opts.id.slice(-6) + ':' + this.clock.now().toString(36) + ':'

    const boot = opts.durable.boot
    let applied = 0
    if (boot.existing) {
      if (boot.snapshot) {
        this.storage.applySnapshot(boot.snapshot)
        this.sm.restore(boot.snapshot.data, boot.snapshot.metadata.index, boot.snapshot.metadata.term)
        applied = boot.snapshot.metadata.index
        this.lastSnapshotIndex = applied
        this.lastSnapshotChars = boot.snapshot.data.length
      }
      if (boot.hardState) this.storage.setHardState(boot.hardState)
      if (boot.entries.length > 0) this.storage.append(boot.entries)
    }
    const random = opts.random
    const electionTicks = Math.max(2, Math.round(opts.electionMs / opts.heartbeatMs))
    const bootstrap = boot.existing ? [] : opts.bootstrap ?? []
    const peerContexts: Record<NodeId, string> = {}
    for (const m of bootstrap) peerContexts[m.id] = m.context
    this.raw = new RawNode({
      id: opts.id,
      peers: bootstrap.map((m) => m.id),
      peerContexts,
      electionTicks,
      heartbeatTicks: 1,
      storage: this.storage,
      rand: { intn: (n: number) => Math.floor(random() * n) },
      applied,
      checkQuorum: true,
      preVote: opts.preVote ?? true,
    })
  }

  /** Starts ticking and runs the loop (a single-member cluster campaigns at once). */
  start(): void {
    this.stopTick = this.clock.every(this.opts.heartbeatMs, () => this.onTick())
    // A single-member cluster need not wait a whole election timeout to lead.
    const voters = this.raw.voters()
    if (voters.length === 1 && voters[0] === this.opts.id) this.raw.campaign()
    this.schedule()
  }

  // ---- requests ----

  /** Why new requests are refused now (stopped, storage failed), if they are. */
  stopError(): Error | undefined {
    // A member stopped by a storage failure says so, also once it is closed.
    if (this.fatal !== undefined) return new StorageFailedError(this.fatal)
    if (this.closed) return new StoppedError()
    return undefined
  }

  /**
   * The one submit path of proposals that someone waits for: `encode(r)` builds the entry data
   * carrying request id r; resolves with what applying the entry returned (on this member).
   */
  submit<T>(encode: (r: string) => string): Promise<T> {
    const stop = this.stopError()
    if (stop) return Promise.reject(stop)
    const r = this.nextRequestId()
    const p = this.waiters.wait<T>(r, this.clock.now() + this.opts.requestTimeoutMs)
    this.proposalQueue.push({ data: encode(r), r })
    this.schedule()
    return p
  }

  /** A proposal nobody waits for (TTL sweeps, publishing); dropped while no leader is known. */
  enqueue(data: string): void {
    this.proposalQueue.push({ data })
    this.schedule()
  }

  /** Proposes a member change; resolves once applied here. ctx travels in the entry's context. */
  submitConfChange(cc: Omit<ConfChange, 'context'>, ctx: { peerURLs?: string[] }): Promise<void> {
    const stop = this.stopError()
    if (stop) return Promise.reject(stop)
    const r = this.nextRequestId()
    const p = this.waiters.wait<void>(r, this.clock.now() + this.opts.requestTimeoutMs)
    try {
      this.raw.proposeConfChange({ ...cc, context: JSON.stringify({ ...ctx, r }) })
    } catch (e) {
      this.waiters.fail(r, e instanceof ProposalDroppedError ? new RequestTimeoutError() : (e as Error))
      return p
    }
    this.schedule()
    return p
  }

  /** Resolves when this member has applied everything committed before the call (ReadIndex). */
  read(): Promise<void> {
    const stop = this.stopError()
    if (stop) return Promise.reject(stop)
    return new Promise((resolve, reject) => {
      this.readQueue.push({ resolve, reject, deadline: this.clock.now() + this.opts.requestTimeoutMs })
      this.schedule()
    })
  }

  private nextRequestId(): string {
    return this.reqPrefix + (++this.reqSeq).toString(36)
  }

  /** Proposals (writes and member changes) waiting to be applied. */
  pendingProposals(): number {
    return this.waiters.size
  }

  // ---- inputs from the transport ----

  /** A Raft message from a peer. */
  step(m: Message): void {
    if (this.closed) return
    try {
      this.raw.step(m)
    } catch (e) {
      this.log('warn', 'dropped a peer message', { type: m.type, from: m.from, err: String(e) })
      return
    }
    this.schedule()
  }

  reportUnreachable(id: NodeId): void {
    this.raw.reportUnreachable(id)
    this.schedule()
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    this.raw.reportSnapshot(id, ok)
    this.schedule()
  }

  /** Asks Raft to hand leadership to `to`; false if it refused at once. */
  transferLeader(to: NodeId): boolean {
    try {
      this.raw.transferLeader(to)
    } catch {
      return false
    }
    this.schedule()
    return true
  }

  // ---- lifecycle ----

  /**
   * Stops the loop: new requests are refused, waiting ones fail as stopped, a Ready in flight
   * finishes its write and our own snapshot in flight finishes (or its encoding is cancelled).
   * The durable log and the transport are the caller's to close afterwards.
   */
  async stop(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.stopTick?.()
    this.failAll(new StoppedError())
    if (this.busy) await new Promise<void>((r) => this.idleWaiters.push(r))
    await this.snapshotInFlight
  }

  get stopped(): boolean {
    return this.closed
  }

  // ---- the Ready loop ----

  schedule(): void {
    if (this.scheduled || this.closed) return
    this.scheduled = true
    this.clock.soon(this.runBound)
  }

  private async run(): Promise<void> {
    this.scheduled = false
    // After a fatal error the Ready in hand was never advanced: the loop must not go on.
    if (this.closed || this.fatal !== undefined) return
    if (this.busy) {
      // A follower relays new proposals and reads to the leader now instead of after the write in
      // flight (that cost each request forwarded through a follower up to one extra fsync).
      if (this.raw.role() !== Role.Leader) {
        try {
          this.flushQueues()
        } catch (e) {
          this.die(e)
        }
      }
      return
    }
    this.busy = true
    try {
      this.flushQueues()
      while (!this.closed && this.raw.hasReady()) {
        const rd = this.raw.ready()
        await this.handleReady(rd)
        this.raw.advance(rd)
        this.flushQueues()
      }
    } catch (e) {
      this.die(e)
    } finally {
      this.busy = false
      if (this.idleWaiters.length > 0) {
        const ws = this.idleWaiters
        this.idleWaiters = []
        for (const w of ws) w()
      }
    }
  }

  /** Hands queued proposals and reads to Raft: one append and one ReadIndex round per turn. */
  private flushQueues(): void {
    // Without a known leader Raft would refuse (and build an error for) every attempt.
    const noLeader = this.raw.leader() === NONE
    if (this.proposalQueue.length > 0 && !noLeader) {
      try {
        this.raw.proposeBatch(this.proposalQueue.map((q) => q.data))
        this.proposalQueue = []
      } catch (e) {
        if (!(e instanceof ProposalDroppedError)) throw e
        // No leader (or a transfer): keep them and retry on the next tick; waiters time out.
      }
    }
    if (this.readQueue.length > 0 && !noLeader) {
      const ctx = String(++this.readSeq)
      try {
        this.raw.readIndex(ctx)
        this.readsInFlight.set(ctx, { waiters: this.readQueue, issuedAt: this.clock.now() })
        this.readQueue = []
      } catch (e) {
        if (!(e instanceof ProposalDroppedError)) throw e
      }
    }
    // Forwards carry nothing that must be durable first: send them at once (RawNode.takeForwards).
    const fwd = this.raw.takeForwards()
    if (fwd.length > 0) this.transport.send(fwd)
  }

  private async handleReady(rd: Ready): Promise<void> {
    if (rd.softState) this.onSoftState(rd.softState)
    // A leader replicates while it writes its own disk (Raft thesis 10.2.1). It counts its own copy
    // towards a commit as soon as it appended, so an entry of this Ready may already be committed:
    // such entries are applied (and acknowledged) only after persist() returned, i.e. once they are
    // durable here as well as on the follower(s) that made the quorum. Followers persist before
    // they answer.
    const leader = this.raw.role() === Role.Leader
    for (const rs of rd.readStates) {
      const b = this.readsInFlight.get(rs.context)
      if (b) b.index = rs.index
    }
    // A leader applies and answers the committed entries that were already durable here before
    // this Ready (every one below its first new entry) now, not after this Ready's fsync: under
    // load the batch committed by the last round trip no longer waits for the next batch's write.
    // Entries of this Ready itself (a leader counts its own unwritten copy towards a commit) still
    // wait until persist() returned. A follower applies everything only after it persisted and put
    // its acknowledgement on the wire: every client's commit waits for that acknowledgement, and
    // applying a batch first (under load tens of entries, ~1 ms) delayed it for the whole cluster.
    let committed = rd.committedEntries
    let n = 0
    if (leader && !rd.snapshot) {
      const firstNew = rd.entries.length > 0 ? rd.entries[0]!.index : Infinity
      while (n < committed.length && committed[n]!.index < firstNew) n++
    }
    // Commit notices reach the followers before this leader's answers do: they are queued here
    // and flushed in a microtask (or by flushNow) ahead of the answers' socket writes, which Node
    // makes in a tick after the answers' promise chains. Kept that way on purpose: answers first
    // saved single-client writes ~0.1 ms but let a client that wrote here and at once read a
    // follower miss its write two times in three (one in five this way; etcd one in ten to seven).
    // With watchers registered the notices are queued before applying, so followers' watchers
    // are not served only after all of ours.
    const applyFirst = leader && n > 0 && rd.entries.length === 0 && this.sm.store.watcherCount === 0
    if (leader && !applyFirst) this.sendMessages(rd)
    if (n > 0) {
      this.applyEntries(n === committed.length ? committed : committed.slice(0, n))
      this.serveReads()
      committed = n === committed.length ? [] : committed.slice(n)
    }
    if (applyFirst) this.sendMessages(rd)
    // On the wire now: before our own write (it may block the thread) and before those answers.
    else if (leader) this.transport.flushNow?.()
    await this.durable.persist(rd)
    if (rd.snapshot) this.installSnapshot(rd.snapshot)
    if (rd.hardState) this.storage.setHardState(rd.hardState)
    if (rd.entries.length > 0) this.storage.append(rd.entries)
    if (!leader) {
      this.sendMessages(rd)
      this.transport.flushNow?.()
    }
    if (committed.length > 0) this.applyEntries(committed)
    this.serveReads()
    await this.maybeSnapshot()
  }

  private sendMessages(rd: Ready): void {
    if (rd.messages.length === 0) return
    this.transport.send(rd.messages)
  }

  private applyEntries(ents: Entry[]): void {
    for (const e of ents) {
      if (e.index <= this.sm.appliedIndex) continue // already in the snapshot we restored
      this.appliedCharsSinceSnapshot += e.data.length
      if (e.type === EntryType.ConfChange) {
        this.applyConfChange(e)
        continue
      }
      const { requestId, result } = this.sm.applyNormal(e)
      if (requestId === undefined) continue
      if (result === null) this.waiters.fail(requestId, new UnexpectedResultError())
      else this.waiters.settle(requestId, result)
    }
  }

  private applyConfChange(e: Entry): void {
    const cc = decodeConfChange(e.data)
    this.raw.applyConfChange(cc)
    this.sm.applyConfChange(e, cc)
    const ctx = cc.context ? (JSON.parse(cc.context) as { r?: string; peerURLs?: string[] }) : {}
    this.opts.onConfApplied?.(e, cc, ctx)
    if (ctx.r) this.waiters.settle(ctx.r, undefined)
  }

  private installSnapshot(snap: Snapshot): void {
    this.storage.applySnapshot(snap)
    this.sm.restore(snap.data, snap.metadata.index, snap.metadata.term)
    this.lastSnapshotIndex = snap.metadata.index
    this.lastSnapshotChars = snap.data.length
    this.appliedCharsSinceSnapshot = 0
    this.opts.onSnapshotInstalled?.(snap)
  }

  /**
   * Every snapshotCount applied entries, snapshots our own state. Not awaited by the Ready loop
   * (it returns at once): the state at `applied` is captured now, synchronously and cheaply, then
   * encoded in slices that yield to the event loop and written to disk while the loop keeps
   * persisting, applying and answering (later WAL writes do not wait for the file). At most one at
   * a time. A failure to write it is fatal like any WAL failure.
   */
  private async maybeSnapshot(): Promise<void> {
    const applied = this.sm.appliedIndex
    if (this.snapshotInFlight !== undefined || applied - this.lastSnapshotIndex < this.opts.snapshotCount) return
    if (this.appliedCharsSinceSnapshot < this.lastSnapshotChars * SNAPSHOT_LOG_FRACTION) return
    const started = this.clock.now()
    const logChars = this.appliedCharsSinceSnapshot
    this.appliedCharsSinceSnapshot = 0
    const conf = { voters: [...this.raw.voters()] }
    const encoding = this.sm.snapshotDataAsync({ cancelled: () => this.closed || this.fatal !== undefined, yieldTo: this.clock.soon })
    const round = (ms: number): number => Math.round(ms * 10) / 10
    this.snapshotInFlight = (async () => {
      const text = await encoding
      if (text === undefined || this.closed || this.fatal !== undefined) return
      if (this.storage.snapshot().metadata.index >= applied) {
        // A snapshot from the leader was installed meanwhile: it covers ours.
        this.log('info', 'dropped own snapshot: a newer one was installed meanwhile', { index: applied })
        return
      }
      const snap = this.storage.createSnapshot(applied, conf, text.data, text.pieces)
      await this.durable.saveSnapshot(snap, { dataChunks: text.pieces })
      this.opts.snapshotSaved?.((this.clock.now() - started) / 1000)
      if (applied > this.lastSnapshotIndex) {
        this.lastSnapshotIndex = applied
        this.lastSnapshotChars = text.data.length
      }
      const keep = this.opts.snapshotCatchUpEntries ?? Math.min(5000, Math.max(10, Math.floor(this.opts.snapshotCount / 2)))
      if (applied - keep > this.storage.firstIndex()) this.storage.compact(applied - keep)
      this.log('info', 'saved snapshot', {
        index: applied, ms: this.clock.now() - started, captureMs: round(text.captureMs), longestSliceMs: round(text.longestSliceMs),
        slices: text.slices, encodeMs: round(text.encodeMs), chars: text.data.length, logChars,
      })
    })()
      .catch((e) => this.die(e))
      .finally(() => {
        this.snapshotInFlight = undefined
      })
  }

  private serveReads(): void {
    for (const [ctx, b] of this.readsInFlight) {
      if (b.index === undefined || b.index > this.sm.appliedIndex) continue
      this.readsInFlight.delete(ctx)
      for (const w of b.waiters) w.resolve()
    }
  }

  private onSoftState(ss: SoftState): void {
    const previous = this.lead
    this.lead = ss.lead
    this.opts.onSoftState?.(ss, previous)
  }

  private onTick(): void {
    if (this.closed) return
    this.raw.tick()
    const now = this.clock.now()
    this.expireWaiters(now)
    // Re-ask for a read point when the first request was lost with a leader change.
    for (const [ctx, b] of this.readsInFlight) {
      if (b.index === undefined && now - b.issuedAt > this.opts.electionMs) {
        this.readsInFlight.delete(ctx)
        this.readQueue.push(...b.waiters)
      }
    }
    this.opts.onTick?.(now)
    this.schedule()
  }

  private expireWaiters(now: number): void {
    const timeout = (): Error => new RequestTimeoutError()
    const failed = this.waiters.expire(now, timeout)
    if (failed > 0) this.opts.proposalsFailed?.(failed)
    this.readQueue = expireList(this.readQueue, now, timeout)
    for (const [ctx, b] of this.readsInFlight) {
      b.waiters = expireList(b.waiters, now, timeout)
      if (b.waiters.length === 0) this.readsInFlight.delete(ctx)
    }
    const noLeader = this.raw.leader() === NONE
    if (this.proposalQueue.length > 0 && (failed > 0 || noLeader)) {
      // A request that timed out while still queued here (no leader to take it) was never handed to
      // Raft: drop it, so a client told "timed out" is not surprised by a late write. Sweeps and
      // publishes nobody waits for are dropped while leaderless and proposed afresh later.
      this.proposalQueue = this.proposalQueue.filter((q) => (q.r === undefined ? !noLeader : this.waiters.has(q.r)))
    }
  }

  private failAll(err: Error): void {
    this.opts.proposalsFailed?.(this.waiters.size)
    this.waiters.failAll(err)
    for (const w of this.readQueue) w.reject(err)
    this.readQueue = []
    for (const b of this.readsInFlight.values()) for (const w of b.waiters) w.reject(err)
    this.readsInFlight.clear()
    this.proposalQueue = []
  }

  private die(e: unknown): void {
    if (this.fatal !== undefined) return
    this.fatal = e
    this.log('error', 'fatal error in the Raft loop; the member stops accepting writes', { err: String(e) })
    this.failAll(new StorageFailedError(e, `etcdserver: ${String(e)}`))
    this.opts.onFatal?.(e)
  }

  private log(level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void {
    this.opts.log?.(level, msg, fields)
  }

  /** For tests and status pages. */
  status(): ReturnType<RawNode['status']> & { applied: number; snapshotting: boolean } {
    return { ...this.raw.status(), applied: this.sm.appliedIndex, snapshotting: this.snapshotInFlight !== undefined }
  }
}
