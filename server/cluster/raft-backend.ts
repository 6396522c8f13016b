// The Raft-backed member: implements the HTTP layer's Backend over the consensus core, the WAL and
// the peer transport. This is the only place where Raft meets I/O: the Ready loop persists, then
// sends, then applies, then advances. Proposals and reads made during one event-loop turn are
// batched into one Raft append / one ReadIndex round, and each Ready costs at most one fdatasync
// (group commit), so throughput grows with load instead of being capped by the disk.
import { RawNode } from '../raft/raw-node.js'
import { MemoryStorage } from '../raft/storage.js'
import { ProposalDroppedError } from '../raft/errors.js'
import { decodeConfChange } from '../raft/raft.js'
import { EntryType, NONE, Role, type ConfChange, type Entry, type Message, type NodeId, type Ready, type Snapshot, type SoftState } from '../raft/types.js'
import type { DurableStorage } from '../wal/storage.js'
import { StoreError, type Store, type StoreEvent, type Command } from '../store/index.js'
import { formatId, memberId as computeMemberId, parseId } from '../ids.js'
import {
  goDuration, MemberChangeError, ProposalError, rfc3339,
  type Backend, type LeaderStats, type MemberInfo, type SelfStats,
} from '../server.js'
import { StateMachine, type ApplyResult, type Payload } from './state-machine.js'
import type { AuthMutation, AuthResult, AuthState } from '../auth/auth-state.js'
import { MembershipError } from './membership.js'
import type { PeerTransport } from './peer-transport.js'
import { PeerStats } from './peer-stats.js'

export interface RaftBackendOptions {
  /** This member's id and the cluster's (16-hex NodeIds). */
  id: NodeId
  clusterId: NodeId
  name: string
  /** Advertised client URLs, published to the cluster once a leader is known (MEM-1). */
  clientURLs: string[]
  /** Opened durable storage (its boot state is replayed here). */
  durable: DurableStorage
  transport: PeerTransport
  /** Bootstrap members of a brand-new cluster (id -> peer URLs, name); empty on restart or join. */
  bootstrap?: { id: NodeId; name: string; peerURLs: string[] }[]
  /** Peers to reach before the log tells us (joining an existing cluster). */
  knownPeers?: { id: NodeId; peerURLs: string[] }[]
  clusterToken: string
  heartbeatMs: number
  electionMs: number
  /** Applied entries between snapshots (--snapshot-count). */
  snapshotCount: number
  /** Entries kept in memory behind a snapshot so slow followers can catch up without one. */
  snapshotCatchUpEntries?: number
  strictReconfigCheck?: boolean
  /** Proposal and quorum-read timeout; etcd: 5 s + 2 x election timeout (KEYS-22). */
  requestTimeoutMs?: number
  /** TTL sweep period (TTL-6). */
  expirySweepMs?: number
  now?: () => number
  /** Seeded randomness for election timeouts; default Math.random. */
  random?: () => number
  log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void
  /** Called once when this member was removed from the cluster (it stops serving). */
  onRemoved?: () => void
  /** Called when the WAL failed: the member must stop (nothing unpersisted was acknowledged). */
  onFatal?: (err: unknown) => void
  /** Metrics hooks (server/metrics); every call is cheap and must not throw. */
  metrics?: {
    leaderChanged(lead: string): void
    proposalsFailed(n: number): void
    snapshotSaved(seconds: number): void
  }
}

interface Waiter {
  resolve: (v: Exclude<ApplyResult, null>) => void
  reject: (e: Error) => void
  deadline: number
}

/** A proposal waiting for a leader; r is the request id whose waiter expects it (if any). */
interface QueuedProposal {
  data: string
  r?: string
}

interface ConfWaiter {
  resolve: () => void
  reject: (e: Error) => void
  deadline: number
}

interface ReadWaiter {
  resolve: () => void
  reject: (e: Error) => void
  deadline: number
}

interface ReadBatch {
  waiters: ReadWaiter[]
  issuedAt: number
  /** Set when the ReadState arrived: serve once applied >= index. */
  index?: number
}

const STOPPED = 'etcdserver: server stopped'
const TIMED_OUT = 'etcdserver: request timed out'

export class RaftBackend implements Backend {
  private readonly raw: RawNode
  private readonly storage = new MemoryStorage()
  private readonly sm = new StateMachine()
  private readonly now: () => number
  private readonly timeoutMs: number
  private readonly peerStats = new PeerStats()
  private readonly startMs: number

  private reqSeq = 0
  private readonly reqPrefix: string
  private readonly waiters = new Map<string, Waiter>()
  private readonly confWaiters = new Map<string, ConfWaiter>()
  /** Proposals not yet handed to Raft (batched per loop turn, kept while no leader is known). */
  private proposalQueue: QueuedProposal[] = []
  private readQueue: ReadWaiter[] = []
  private readSeq = 0
  private readonly readsInFlight = new Map<string, ReadBatch>()

  private scheduled = false
  private busy = false
  private closed = false
  private fatal: unknown
  private tickTimer: NodeJS.Timeout | undefined
  private sweepTimer: NodeJS.Timeout | undefined
  private lastSnapshotIndex = 0
  /** Our own snapshot being encoded and written (at most one; see maybeSnapshot). Never rejects. */
  private snapshotInFlight: Promise<void> | undefined
  private role: Role = Role.Follower
  private lead: NodeId = NONE
  private leaderSince = 0
  private published = false
  private lastPublishAttempt = 0
  private removed = false
  private readonly runBound = (): void => void this.run()
  /** Peer URLs the transport was last given, per member (never ourselves). */
  private readonly knownPeerUrls = new Map<NodeId, string[]>()

  constructor(private readonly opts: RaftBackendOptions) {
    this.now = opts.now ?? Date.now
    this.startMs = this.now()
    this.timeoutMs = opts.requestTimeoutMs ?? 5000 + 2 * opts.electionMs
    this.reqPrefix = opts.id.slice(-6) + ':' + this.startMs.toString(36) + ':'

    const boot = opts.durable.boot
    let applied = 0
    if (boot.existing) {
      if (boot.snapshot) {
        this.storage.applySnapshot(boot.snapshot)
        this.sm.restore(boot.snapshot.data, boot.snapshot.metadata.index, boot.snapshot.metadata.term)
        applied = boot.snapshot.metadata.index
        this.lastSnapshotIndex = applied
      }
      if (boot.hardState) this.storage.setHardState(boot.hardState)
      if (boot.entries.length > 0) this.storage.append(boot.entries)
    }
    const random = opts.random ?? Math.random
    const electionTicks = Math.max(2, Math.round(opts.electionMs / opts.heartbeatMs))
    const bootstrap = boot.existing ? [] : opts.bootstrap ?? []
    const peerContexts: Record<NodeId, string> = {}
    for (const m of bootstrap) peerContexts[m.id] = JSON.stringify({ name: m.name, peerURLs: m.peerURLs })
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
      preVote: true,
    })
    for (const p of opts.knownPeers ?? []) {
      if (p.id === opts.id) continue
      opts.transport.addPeer(p.id, p.peerURLs)
      this.knownPeerUrls.set(p.id, [...p.peerURLs])
    }
    this.syncPeers()

    opts.transport.onMessage((m) => this.onPeerMessage(m))
    opts.transport.onUnreachable((id) => {
      this.peerStats.fail(id)
      this.raw.reportUnreachable(id)
      this.schedule()
    })
    opts.transport.onSnapshotStatus((id, ok) => {
      this.raw.reportSnapshot(id, ok)
      this.schedule()
    })
    this.tickTimer = setInterval(() => this.onTick(), opts.heartbeatMs)
    this.sweepTimer = setInterval(() => this.maybeSweep(), opts.expirySweepMs ?? 500)
    // A single-member cluster need not wait a whole election timeout to lead.
    if (this.raw.status().voters.length === 1 && this.raw.status().voters[0] === opts.id) this.raw.campaign()
    this.schedule()
  }

  // ---- Backend: the key space ----

  get store(): Store {
    return this.sm.store
  }

  propose(cmd: Command): Promise<StoreEvent | StoreError> {
    const stop = this.stopError()
    if (stop) return Promise.reject(stop)
    const r = this.reqPrefix + (++this.reqSeq).toString(36)
    const payload: Payload = { k: 'cmd', t: this.now(), c: cmd, r }
    return new Promise((resolve, reject) => {
      this.waiters.set(r, { resolve: resolve as Waiter['resolve'], reject, deadline: this.now() + this.timeoutMs })
      this.proposalQueue.push({ data: JSON.stringify(payload), r })
      this.schedule()
    })
  }

  /** The applied v2 auth data (server/auth). */
  authState(): AuthState {
    return this.sm.auth
  }

  /** Like propose(), for a v2 auth change (passwords already hashed by the caller). */
  proposeAuth(m: AuthMutation): Promise<AuthResult> {
    const stop = this.stopError()
    if (stop) return Promise.reject(stop)
    const r = this.reqPrefix + (++this.reqSeq).toString(36)
    const payload: Payload = { k: 'auth', m, r }
    return new Promise((resolve, reject) => {
      this.waiters.set(r, { resolve: resolve as Waiter['resolve'], reject, deadline: this.now() + this.timeoutMs })
      this.proposalQueue.push({ data: JSON.stringify(payload), r })
      this.schedule()
    })
  }

  linearizableRead(): Promise<void> {
    const stop = this.stopError()
    if (stop) return Promise.reject(stop)
    return new Promise((resolve, reject) => {
      this.readQueue.push({ resolve, reject, deadline: this.now() + this.timeoutMs })
      this.schedule()
    })
  }

  raftIndex(): number {
    return this.raw.raft.log.committed
  }

  raftTerm(): number {
    return this.raw.raft.term
  }

  clusterId(): string {
    return formatId(this.opts.clusterId)
  }

  memberId(): string {
    return formatId(this.opts.id)
  }

  /** This member's id as a NodeId. */
  get id(): NodeId {
    return this.opts.id
  }

  isLeader(): boolean {
    return this.raw.raft.role === Role.Leader
  }

  members(): MemberInfo[] {
    return this.sm.membership.list().map((m) => ({
      id: formatId(m.id),
      name: m.name,
      peerURLs: [...m.peerURLs],
      clientURLs: [...m.clientURLs],
    }))
  }

  leaderId(): string | undefined {
    const lead = this.raw.raft.lead
    return lead === NONE ? undefined : formatId(lead)
  }

  selfStats(): SelfStats {
    const r = this.raw.raft
    const state: SelfStats['state'] =
      r.role === Role.Leader ? 'StateLeader' : r.role === Role.Candidate ? 'StateCandidate' : r.role === Role.PreCandidate ? 'StatePreCandidate' : 'StateFollower'
    const since = this.leaderSince || this.startMs
    const s: SelfStats = {
      name: this.opts.name,
      id: formatId(this.opts.id),
      state,
      startTime: rfc3339(this.startMs),
      leaderInfo: { leader: r.lead === NONE ? '' : formatId(r.lead), uptime: goDuration(this.now() - since), startTime: rfc3339(since) },
      recvAppendRequestCnt: this.peerStats.recvAppend,
      sendAppendRequestCnt: this.peerStats.sendAppend,
    }
    const recv = this.peerStats.recvRates(this.now())
    if (recv.pkg > 0) {
      s.recvPkgRate = recv.pkg
      s.recvBandwidthRate = recv.bytes
    }
    const send = this.peerStats.sendRates(this.now())
    if (send.pkg > 0) {
      s.sendPkgRate = send.pkg
      s.sendBandwidthRate = send.bytes
    }
    return s
  }

  leaderStats(): LeaderStats | undefined {
    if (this.raw.raft.role !== Role.Leader) return undefined
    const followers: LeaderStats['followers'] = {}
    for (const id of this.raw.status().voters) {
      if (id === this.opts.id) continue
      followers[formatId(id)] = this.peerStats.follower(id)
    }
    return { leader: formatId(this.opts.id), followers }
  }

  // ---- Backend: membership (MEM-4..7) ----

  async addMember(peerURLs: string[]): Promise<MemberInfo> {
    const id = computeMemberId(peerURLs, this.opts.clusterToken, this.now() / 1000)
    try {
      this.sm.membership.checkAdd(id, peerURLs)
    } catch (e) {
      throw toMemberError(e)
    }
    if (this.opts.strictReconfigCheck !== false) {
      const members = this.sm.membership.list()
      const started = members.filter((m) => m.name !== '' || m.id === this.opts.id).length
      const quorum = Math.floor((members.length + 1) / 2) + 1
      if (members.length > 1 && started < quorum) throw new MemberChangeError(500, 'Internal Server Error')
    }
    await this.proposeConf({ type: 'add', id }, { peerURLs })
    return { id: formatId(id), name: '', peerURLs: [...peerURLs], clientURLs: [] }
  }

  async removeMember(idText: string): Promise<void> {
    const id = parseId(idText)
    if (id !== undefined && this.sm.membership.isRemoved(id)) throw new MemberChangeError(410, `Member permanently removed: ${idText}`)
    if (id === undefined || !this.sm.membership.has(id)) throw new MemberChangeError(404, `No such member: ${idText}`)
    await this.proposeConf({ type: 'remove', id }, {})
  }

  async updateMember(idText: string, peerURLs: string[]): Promise<void> {
    const id = parseId(idText)
    if (id !== undefined && this.sm.membership.isRemoved(id)) throw new MemberChangeError(500, 'Internal Server Error')
    if (id === undefined || !this.sm.membership.has(id)) throw new MemberChangeError(404, `No such member: ${idText}`)
    try {
      this.sm.membership.checkUrlsFree(id, peerURLs)
    } catch (e) {
      throw toMemberError(e)
    }
    await this.proposeConf({ type: 'update', id }, { peerURLs })
  }

  private proposeConf(cc: Omit<ConfChange, 'context'>, ctx: { peerURLs?: string[] }): Promise<void> {
    const stop = this.stopError()
    if (stop) return Promise.reject(stop)
    const r = this.reqPrefix + (++this.reqSeq).toString(36)
    return new Promise((resolve, reject) => {
      this.confWaiters.set(r, { resolve, reject, deadline: this.now() + this.timeoutMs })
      try {
        this.raw.proposeConfChange({ ...cc, context: JSON.stringify({ ...ctx, r }) })
      } catch (e) {
        this.confWaiters.delete(r)
        reject(e instanceof ProposalDroppedError ? new ProposalError(300, TIMED_OUT) : e)
        return
      }
      this.schedule()
    })
  }

  // ---- lifecycle ----

  /**
   * Graceful stop (SIGTERM): a leader first hands leadership to the most up-to-date follower and
   * waits (bounded) for it to take over, so the cluster does not wait out an election timeout.
   */
  async transferLeadershipAway(maxWaitMs = this.opts.electionMs * 2): Promise<void> {
    if (this.closed || this.raw.raft.role !== Role.Leader) return
    const st = this.raw.status()
    let best: NodeId = NONE
    let bestMatch = -1
    for (const [id, pr] of st.progress ?? []) {
      if (id !== this.opts.id && pr.match > bestMatch) {
        best = id
        bestMatch = pr.match
      }
    }
    if (best === NONE) return
    try {
      this.raw.transferLeader(best)
    } catch {
      return
    }
    this.schedule()
    const until = this.now() + maxWaitMs
    while (this.now() < until && this.raw.raft.lead === this.opts.id) await sleep(10)
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.tickTimer)
    clearInterval(this.sweepTimer)
    this.failAll(new ProposalError(300, STOPPED))
    // Let a Ready in flight finish its write before closing the WAL.
    while (this.busy) await sleep(1)
    // Likewise our own snapshot (its encoding stops at the next slice once closed).
    await this.snapshotInFlight
    await this.opts.transport.stop()
    await this.opts.durable.close()
  }

  // ---- the Ready loop ----

  private schedule(): void {
    if (this.scheduled || this.closed) return
    this.scheduled = true
    setImmediate(this.runBound)
  }

  private async run(): Promise<void> {
    this.scheduled = false
    // After a fatal error the Ready in hand was never advanced: the loop must not go on.
    if (this.closed || this.fatal !== undefined) return
    if (this.busy) {
      // A follower relays new proposals and reads to the leader now instead of after the write in
      // flight (that cost each request forwarded through a follower up to one extra fsync).
      if (this.raw.raft.role !== Role.Leader) {
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
    }
  }

  /** Hands queued proposals and reads to Raft: one append and one ReadIndex round per turn. */
  private flushQueues(): void {
    if (this.proposalQueue.length > 0) {
      try {
        this.raw.proposeBatch(this.proposalQueue.map((q) => q.data))
        this.proposalQueue = []
      } catch (e) {
        if (!(e instanceof ProposalDroppedError)) throw e
        // No leader (or a transfer): keep them and retry on the next tick; waiters time out.
      }
    }
    if (this.readQueue.length > 0) {
      const ctx = String(++this.readSeq)
      try {
        this.raw.readIndex(ctx)
        this.readsInFlight.set(ctx, { waiters: this.readQueue, issuedAt: this.now() })
        this.readQueue = []
      } catch (e) {
        if (!(e instanceof ProposalDroppedError)) throw e
      }
    }
    // Forwards carry nothing that must be durable first: send them at once (RawNode.takeForwards).
    const fwd = this.raw.takeForwards()
    if (fwd.length > 0) {
      this.peerStats.onSend(fwd, this.now())
      this.opts.transport.send(fwd)
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    if (rd.softState) this.onSoftState(rd.softState)
    // A leader replicates while it writes its own disk (Raft thesis 10.2.1). It counts its own copy
    // towards a commit as soon as it appended, so an entry of this Ready may already be committed:
    // such entries are applied (and acknowledged) only after persist() returned, i.e. once they are
    // durable here as well as on the follower(s) that made the quorum. Followers persist before
    // they answer.
    const leader = this.raw.raft.role === Role.Leader
    for (const rs of rd.readStates) {
      const b = this.readsInFlight.get(rs.context)
      if (b) b.index = rs.index
    }
    // Committed entries that were already durable here before this Ready (every one below its
    // first new entry) are applied and answered now, not after this Ready's fsync: under load the
    // batch committed by the last round trip no longer waits for the next batch's write. Entries
    // of this Ready itself (a leader counts its own unwritten copy towards a commit) and anything
    // after a snapshot from the leader still wait until persist() returned.
    let committed = rd.committedEntries
    let n = 0
    if (!rd.snapshot) {
      const firstNew = rd.entries.length > 0 ? rd.entries[0].index : Infinity
      while (n < committed.length && committed[n].index < firstNew) n++
    }
    // A leader with nothing new to replicate answers its clients before it broadcasts the commit
    // index (those messages only tell followers what to apply), unless watchers are registered:
    // then followers hear of the commit first, so their watchers are not served only after all of
    // ours. Answers are written in microtasks, i.e. after this synchronous part.
    const answerFirst = leader && n > 0 && rd.entries.length === 0 && this.sm.store.watcherCount === 0
    if (leader && !answerFirst) this.sendMessages(rd)
    if (n > 0) {
      this.applyEntries(n === committed.length ? committed : committed.slice(0, n))
      this.serveReads()
      committed = n === committed.length ? [] : committed.slice(n)
    }
    if (answerFirst) this.sendMessages(rd)
    // On the wire now: before our own write (it may block the thread) and before those answers.
    else if (leader) this.opts.transport.flushNow?.()
    await this.opts.durable.persist(rd)
    if (rd.snapshot) this.installSnapshot(rd.snapshot)
    if (rd.hardState) this.storage.setHardState(rd.hardState)
    if (rd.entries.length > 0) this.storage.append(rd.entries)
    if (!leader) this.sendMessages(rd)
    if (committed.length > 0) this.applyEntries(committed)
    this.serveReads()
    await this.maybeSnapshot()
  }

  private sendMessages(rd: Ready): void {
    if (rd.messages.length === 0) return
    this.peerStats.onSend(rd.messages, this.now())
    this.opts.transport.send(rd.messages)
  }

  private applyEntries(ents: Entry[]): void {
    for (const e of ents) {
      if (e.index <= this.sm.appliedIndex) continue // already in the snapshot we restored
      if (e.type === EntryType.ConfChange) {
        this.applyConfChange(e)
        continue
      }
      const { requestId, result } = this.sm.applyNormal(e)
      if (requestId === undefined) continue
      const w = this.waiters.get(requestId)
      if (!w) continue
      this.waiters.delete(requestId)
      if (result === null) w.reject(new ProposalError(300, 'etcdserver: unexpected empty result'))
      else w.resolve(result)
    }
  }

  private applyConfChange(e: Entry): void {
    const cc = decodeConfChange(e.data)
    this.raw.applyConfChange(cc)
    this.sm.applyConfChange(e, cc)
    this.syncPeers()
    const ctx = cc.context ? (JSON.parse(cc.context) as { r?: string; peerURLs?: string[] }) : {}
    this.log('info', `member ${formatId(cc.id)} ${cc.type === 'add' ? 'added to' : cc.type === 'remove' ? 'removed from' : 'updated in'} the cluster`, {
      index: e.index, peerURLs: ctx.peerURLs, voters: this.raw.status().voters.length,
    })
    if (ctx.r) {
      const w = this.confWaiters.get(ctx.r)
      if (w) {
        this.confWaiters.delete(ctx.r)
        w.resolve()
      }
    }
    if (cc.type === 'remove' && cc.id === this.opts.id && !this.removed) {
      this.removed = true
      this.log('warn', 'this member has been permanently removed from the cluster; it stops serving')
      // Answer the request that removed us before going away.
      setTimeout(() => this.opts.onRemoved?.(), 200).unref()
    }
  }

  private installSnapshot(snap: Snapshot): void {
    this.storage.applySnapshot(snap)
    this.sm.restore(snap.data, snap.metadata.index, snap.metadata.term)
    this.lastSnapshotIndex = snap.metadata.index
    this.syncPeers()
    this.log('info', 'installed snapshot from leader', { index: snap.metadata.index, term: snap.metadata.term })
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
    const started = this.now()
    const conf = { voters: this.raw.status().voters }
    const encoding = this.sm.snapshotDataAsync({ cancelled: () => this.closed || this.fatal !== undefined })
    const round = (ms: number): number => Math.round(ms * 10) / 10
    this.snapshotInFlight = (async () => {
      const text = await encoding
      if (text === undefined || this.closed || this.fatal !== undefined) return
      if (this.storage.snapshot().metadata.index >= applied) {
        // A snapshot from the leader was installed meanwhile: it covers ours.
        this.log('info', 'dropped own snapshot: a newer one was installed meanwhile', { index: applied })
        return
      }
      const snap = this.storage.createSnapshot(applied, conf, text.data)
      await this.opts.durable.saveSnapshot(snap, { dataChunks: text.pieces })
      this.opts.metrics?.snapshotSaved((this.now() - started) / 1000)
      if (applied > this.lastSnapshotIndex) this.lastSnapshotIndex = applied
      const keep = this.opts.snapshotCatchUpEntries ?? Math.min(5000, Math.max(10, Math.floor(this.opts.snapshotCount / 2)))
      if (applied - keep > this.storage.firstIndex()) this.storage.compact(applied - keep)
      this.log('info', 'saved snapshot', {
        index: applied, ms: this.now() - started, captureMs: round(text.captureMs), longestSliceMs: round(text.longestSliceMs),
        slices: text.slices, encodeMs: round(text.encodeMs), chars: text.data.length,
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
    if (ss.lead !== this.lead) {
      if (ss.lead !== NONE) this.leaderSince = this.now()
      this.log('info', ss.lead === NONE ? 'lost the leader' : `leader is ${formatId(ss.lead)}`, {
        term: this.raw.raft.term, previous: this.lead === NONE ? '' : formatId(this.lead), self: ss.lead === this.opts.id,
      })
      this.lead = ss.lead
      this.peerStats.resetLeader()
      this.opts.metrics?.leaderChanged(ss.lead === NONE ? '' : formatId(ss.lead))
    }
    this.role = ss.role
  }

  private onPeerMessage(m: Message): void {
    if (this.closed) return
    this.peerStats.onRecv(m, this.now())
    try {
      this.raw.step(m)
    } catch (e) {
      this.log('warn', 'dropped a peer message', { type: m.type, from: m.from, err: String(e) })
      return
    }
    this.schedule()
  }

  private onTick(): void {
    if (this.closed) return
    this.raw.tick()
    const now = this.now()
    this.expireWaiters(now)
    // Re-ask for a read point when the first request was lost with a leader change.
    for (const [ctx, b] of this.readsInFlight) {
      if (b.index === undefined && now - b.issuedAt > this.opts.electionMs) {
        this.readsInFlight.delete(ctx)
        this.readQueue.push(...b.waiters)
      }
    }
    this.maybePublish(now)
    this.schedule()
  }

  /** The leader proposes a time-stamped expiry sweep when some TTL has passed (TTL-6). */
  private maybeSweep(): void {
    if (this.closed || this.raw.raft.role !== Role.Leader) return
    const next = this.sm.store.nextExpiryMs()
    const now = this.now()
    if (next === undefined || next > now) return
    const payload: Payload = { k: 'cmd', t: now, c: { op: 'expire' } }
    this.proposalQueue.push({ data: JSON.stringify(payload) })
    this.schedule()
  }

  /** Publishes our name and client URLs once a leader is known, until the log has them (MEM-1). */
  private maybePublish(now: number): void {
    if (this.published || this.raw.raft.lead === NONE) return
    const me = this.sm.membership.get(this.opts.id)
    if (me && me.name === this.opts.name && sameList(me.clientURLs, this.opts.clientURLs)) {
      this.published = true
      return
    }
    if (!me || now - this.lastPublishAttempt < this.opts.electionMs) return
    this.lastPublishAttempt = now
    const payload: Payload = { k: 'attr', id: this.opts.id, name: this.opts.name, clientURLs: this.opts.clientURLs }
    this.proposalQueue.push({ data: JSON.stringify(payload) })
  }

  /** Whether `id` was removed from the cluster (the transport refuses its messages). */
  isRemovedMember(id: NodeId): boolean {
    return this.sm.membership.isRemoved(id)
  }

  /** A peer told us (HTTP 410) that we were removed while we were away: stop serving. */
  markRemoved(): void {
    if (this.removed) return
    this.removed = true
    this.log('warn', 'the cluster says this member was removed; it stops serving')
    this.opts.onRemoved?.()
  }

  /**
   * Resolves once this member has published its name and client URLs through the log (etcd serves
   * clients only after that: clients such as etcdctl sync their endpoints from /v2/members).
   * Resolves false after timeoutMs.
   */
  async waitPublished(timeoutMs: number): Promise<boolean> {
    const until = this.now() + timeoutMs
    while (!this.closed && this.now() < until) {
      this.maybePublish(this.now())
      if (this.published) return true
      this.schedule()
      await sleep(5)
    }
    return this.published
  }

  /** Proposals (writes and member changes) waiting to be applied, for etcd_server_proposals_pending. */
  pendingProposals(): number {
    return this.waiters.size + this.confWaiters.size
  }

  /** Number of voting members. */
  voterCount(): number {
    return this.raw.status().voters.length
  }

  /** Updates the advertised client URLs (after binding port 0) and republishes them. */
  setClientURLs(urls: string[]): void {
    this.opts.clientURLs = [...urls]
    this.published = false
    this.lastPublishAttempt = 0
  }

  private expireWaiters(now: number): void {
    const timeout = (): ProposalError => new ProposalError(300, TIMED_OUT)
    let failed = 0
    for (const [r, w] of this.waiters) {
      if (w.deadline > now) continue
      this.waiters.delete(r)
      w.reject(timeout())
      failed++
    }
    for (const [r, w] of this.confWaiters) {
      if (w.deadline > now) continue
      this.confWaiters.delete(r)
      w.reject(timeout())
      failed++
    }
    if (failed > 0) this.opts.metrics?.proposalsFailed(failed)
    this.readQueue = this.readQueue.filter((w) => (w.deadline > now ? true : (w.reject(timeout()), false)))
    for (const [ctx, b] of this.readsInFlight) {
      b.waiters = b.waiters.filter((w) => (w.deadline > now ? true : (w.reject(timeout()), false)))
      if (b.waiters.length === 0) this.readsInFlight.delete(ctx)
    }
    if (this.proposalQueue.length > 0 && (failed > 0 || this.raw.raft.lead === NONE)) {
      // A request that timed out while still queued here (no leader to take it) was never handed to
      // Raft: drop it, so a client told "timed out" is not surprised by a late write. Sweeps and
      // publishes nobody waits for are dropped while leaderless and proposed afresh later.
      const noLeader = this.raw.raft.lead === NONE
      this.proposalQueue = this.proposalQueue.filter((q) => (q.r === undefined ? !noLeader : this.waiters.has(q.r)))
    }
  }

  /** Keeps the transport's peer list equal to the membership (minus ourselves). */
  private syncPeers(): void {
    const t = this.opts.transport
    const want = new Map<NodeId, string[]>()
    for (const m of this.sm.membership.list()) if (m.id !== this.opts.id) want.set(m.id, m.peerURLs)
    for (const [id, urls] of want) {
      const had = this.knownPeerUrls.get(id)
      if (!had) t.addPeer(id, urls)
      else if (!sameList(had, urls)) t.updatePeer(id, urls)
      this.knownPeerUrls.set(id, [...urls])
    }
    // Peers not (yet) in the table stay: a joining member learns them before the log tells it.
    for (const id of [...this.knownPeerUrls.keys()]) {
      if (want.has(id) || !this.sm.membership.isRemoved(id)) continue
      t.removePeer(id)
      this.knownPeerUrls.delete(id)
    }
  }

  private stopError(): ProposalError | undefined {
    if (this.closed || this.removed) return new ProposalError(300, STOPPED)
    if (this.fatal) return new ProposalError(300, `etcdserver: storage failed: ${String(this.fatal)}`)
    return undefined
  }

  private failAll(err: Error): void {
    this.opts.metrics?.proposalsFailed(this.waiters.size + this.confWaiters.size)
    for (const w of this.waiters.values()) w.reject(err)
    this.waiters.clear()
    for (const w of this.confWaiters.values()) w.reject(err)
    this.confWaiters.clear()
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
    this.failAll(new ProposalError(300, `etcdserver: ${String(e)}`))
    this.opts.onFatal?.(e)
  }

  private log(level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void {
    this.opts.log?.(level, msg, fields)
  }

  /** For tests and status pages. */
  status(): ReturnType<RawNode['status']> & { applied: number } {
    return { ...this.raw.status(), applied: this.sm.appliedIndex }
  }
}

function toMemberError(e: unknown): Error {
  if (e instanceof MembershipError) return new MemberChangeError(e.status, e.message)
  return e as Error
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

