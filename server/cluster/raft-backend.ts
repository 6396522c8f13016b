// The Raft-backed member: implements the HTTP layer's Backend over the Ready loop (raft-driver.ts),
// the WAL and the peer transport. Here live what etcd's EtcdServer does around its raftNode: the
// client-facing request paths, membership administration, publishing this member's attributes,
// TTL sweeps, peer bookkeeping and stats. The loop itself (persist, send, apply, advance, and in
// which order) is the driver's, so the seeded simulation runs it exactly as a member does.
import { NONE, Role, type NodeId } from '../raft/types.js'
import type { DurableStorage } from '../wal/storage.js'
import type { StoreError, StoreEvent, Command } from '../store/index.js'
import { formatId, memberId as computeMemberId } from '../ids.js'
import type { Backend, LeaderStats, MemberInfo, SelfStats, StoreView } from '../server.js'
import { StateMachine, type Payload } from './state-machine.js'
import type { AuthMutation, AuthResult, AuthState } from '../auth/auth-state.js'
import type { Transport } from '../transport/transport.js'
import { PeerStats } from './peer-stats.js'
import { RaftDriver, systemClock, type DriverClock } from './raft-driver.js'
import { StoppedError } from './errors.js'
import { checkAddMember, checkUpdateMember, existingMember } from './member-admin.js'
import { formatLeaderStats, formatSelfStats } from './v2-stats.js'

export interface RaftBackendOptions {
  /** This member's id and the cluster's (16-hex NodeIds). */
  id: NodeId
  clusterId: NodeId
  name: string
  /** Advertised client URLs, published to the cluster once a leader is known (MEM-1). */
  clientURLs: string[]
  /** Opened durable storage (its boot state is replayed here). */
  durable: DurableStorage
  transport: Transport
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
  /** Pre-vote before elections (--pre-vote); default true. */
  preVote?: boolean
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

export class RaftBackend implements Backend {
  private readonly driver: RaftDriver
  private readonly sm = new StateMachine()
  private readonly clock: DriverClock
  private readonly peerStats = new PeerStats()
  private readonly startMs: number
  private closed = false
  private sweepTimer: NodeJS.Timeout | undefined
  private leaderSince = 0
  private published = false
  private lastPublishAttempt = 0
  private removed = false
  /** Peer URLs the transport was last given, per member (never ourselves). */
  private readonly knownPeerUrls = new Map<NodeId, string[]>()

  constructor(private readonly opts: RaftBackendOptions) {
    this.clock = opts.now ? { ...systemClock, now: opts.now } : systemClock
    this.startMs = this.clock.now()
    const transport = opts.transport
    const peerStats = this.peerStats
    const clock = this.clock
    this.driver = new RaftDriver({
      id: opts.id,
      clock,
      durable: opts.durable,
      // Counts what is sent for /v2/stats, then hands it to the transport.
      transport: {
        send(msgs) {
          peerStats.onSend(msgs, clock.now())
          transport.send(msgs)
        },
        flushNow: transport.flushNow ? () => transport.flushNow!() : undefined,
      },
      sm: this.sm,
      bootstrap: (opts.bootstrap ?? []).map((m) => ({ id: m.id, context: JSON.stringify({ name: m.name, peerURLs: m.peerURLs }) })),
      heartbeatMs: opts.heartbeatMs,
      electionMs: opts.electionMs,
      preVote: opts.preVote,
      snapshotCount: opts.snapshotCount,
      snapshotCatchUpEntries: opts.snapshotCatchUpEntries,
      requestTimeoutMs: opts.requestTimeoutMs ?? 5000 + 2 * opts.electionMs,
      random: opts.random ?? Math.random,
      onSoftState: (ss, previous) => {
        if (ss.lead === previous) return
        if (ss.lead !== NONE) this.leaderSince = this.clock.now()
        this.log('info', ss.lead === NONE ? 'lost the leader' : `leader is ${formatId(ss.lead)}`, {
          term: this.driver.raw.term(), previous: previous === NONE ? '' : formatId(previous), self: ss.lead === opts.id,
        })
        this.peerStats.resetLeader()
        opts.metrics?.leaderChanged(ss.lead === NONE ? '' : formatId(ss.lead))
      },
      onConfApplied: (e, cc, ctx) => {
        this.syncPeers()
        this.log('info', `member ${formatId(cc.id)} ${cc.type === 'add' ? 'added to' : cc.type === 'remove' ? 'removed from' : 'updated in'} the cluster`, {
          index: e.index, peerURLs: ctx.peerURLs, voters: this.driver.raw.voters().length,
        })
        if (cc.type === 'remove' && cc.id === opts.id && !this.removed) {
          this.removed = true
          this.log('warn', 'this member has been permanently removed from the cluster; it stops serving')
          // Answer the request that removed us before going away.
          setTimeout(() => opts.onRemoved?.(), 200).unref()
        }
      },
      onSnapshotInstalled: (snap) => {
        this.syncPeers()
        this.log('info', 'installed snapshot from leader', { index: snap.metadata.index, term: snap.metadata.term })
      },
      onTick: (now) => this.maybePublish(now),
      onFatal: (e) => opts.onFatal?.(e),
      log: opts.log,
      proposalsFailed: opts.metrics ? (n) => opts.metrics!.proposalsFailed(n) : undefined,
      snapshotSaved: opts.metrics ? (s) => opts.metrics!.snapshotSaved(s) : undefined,
    })
    for (const p of opts.knownPeers ?? []) {
      if (p.id === opts.id) continue
      transport.addPeer(p.id, p.peerURLs)
      this.knownPeerUrls.set(p.id, [...p.peerURLs])
    }
    this.syncPeers()

    transport.onMessage((m) => {
      if (this.closed) return
      this.peerStats.onRecv(m, this.clock.now())
      this.driver.step(m)
    })
    transport.onUnreachable((id) => {
      this.peerStats.fail(id)
      this.driver.reportUnreachable(id)
    })
    transport.onSnapshotStatus((id, ok) => this.driver.reportSnapshot(id, ok))
    this.sweepTimer = setInterval(() => this.maybeSweep(), opts.expirySweepMs ?? 500)
    this.driver.start()
  }

  // ---- Backend: the key space ----

  get store(): StoreView {
    return this.sm.store
  }

  async propose(cmd: Command): Promise<StoreEvent | StoreError> {
    if (this.removed) throw new StoppedError()
    // A compare that fails on the state applied here may only look failed (this member can be
    // behind): after a linearizable read, a compare that still fails is answered from that state,
    // without a log entry (a contended lock or CAS retries cost a read round, not a replicated
    // write on every member). One that passes is proposed and checked again when applied.
    if (this.sm.store.compareFailure(cmd) !== undefined) {
      await this.driver.read()
      const failed = this.sm.store.compareFailure(cmd, true)
      if (failed !== undefined) return failed
    }
    const t = this.clock.now()
    return this.driver.submit((r) => JSON.stringify({ k: 'cmd', t, c: cmd, r } satisfies Payload))
  }

  /** The applied v2 auth data (server/auth). */
  authState(): AuthState {
    return this.sm.auth
  }

  /** Like propose(), for a v2 auth change (passwords already hashed by the caller). */
  proposeAuth(m: AuthMutation): Promise<AuthResult> {
    if (this.removed) return Promise.reject(new StoppedError())
    return this.driver.submit((r) => JSON.stringify({ k: 'auth', m, r } satisfies Payload))
  }

  linearizableRead(): Promise<void> {
    if (this.removed) return Promise.reject(new StoppedError())
    return this.driver.read()
  }

  raftIndex(): number {
    return this.driver.raw.committed()
  }

  raftTerm(): number {
    return this.driver.raw.term()
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
    return this.driver.raw.role() === Role.Leader
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
    const lead = this.driver.raw.leader()
    return lead === NONE ? undefined : formatId(lead)
  }

  selfStats(): SelfStats {
    const raw = this.driver.raw
    return formatSelfStats({
      name: this.opts.name, id: this.opts.id, role: raw.role(), lead: raw.leader(),
      startMs: this.startMs, leaderSinceMs: this.leaderSince || this.startMs, now: this.clock.now(), peerStats: this.peerStats,
    })
  }

  leaderStats(): LeaderStats | undefined {
    if (this.driver.raw.role() !== Role.Leader) return undefined
    return formatLeaderStats(this.opts.id, this.driver.raw.voters(), this.peerStats)
  }

  // ---- Backend: membership (MEM-4..7) ----

  async addMember(peerURLs: string[]): Promise<MemberInfo> {
    const id = computeMemberId(peerURLs, this.opts.clusterToken, this.clock.now() / 1000)
    checkAddMember(this.sm.membership, id, peerURLs, this.opts.id, this.opts.strictReconfigCheck !== false)
    await this.proposeConf({ type: 'add', id }, { peerURLs })
    return { id: formatId(id), name: '', peerURLs: [...peerURLs], clientURLs: [] }
  }

  async removeMember(idText: string): Promise<void> {
    const id = existingMember(this.sm.membership, idText)
    await this.proposeConf({ type: 'remove', id }, {})
  }

  async updateMember(idText: string, peerURLs: string[]): Promise<void> {
    const id = existingMember(this.sm.membership, idText)
    checkUpdateMember(this.sm.membership, id, peerURLs)
    await this.proposeConf({ type: 'update', id }, { peerURLs })
  }

  private proposeConf(cc: { type: 'add' | 'remove' | 'update'; id: NodeId }, ctx: { peerURLs?: string[] }): Promise<void> {
    if (this.removed) return Promise.reject(new StoppedError())
    return this.driver.submitConfChange(cc, ctx)
  }

  // ---- lifecycle ----

  /**
   * Graceful stop (SIGTERM): a leader first hands leadership to the most up-to-date follower and
   * waits (bounded) for it to take over, so the cluster does not wait out an election timeout.
   */
  async transferLeadershipAway(maxWaitMs = this.opts.electionMs * 2): Promise<void> {
    if (this.closed || this.driver.raw.role() !== Role.Leader) return
    const st = this.driver.raw.status()
    // Followers heard from lately (check-quorum window) first, then the most up to date. One that
    // just stopped may still look active: a transfer that does not finish in an election timeout
    // moves on to the next candidate.
    const candidates = [...(st.progress ?? [])]
      .filter(([id]) => id !== this.opts.id)
      .sort(([, a], [, b]) => Number(b.recentActive) - Number(a.recentActive) || b.match - a.match)
      .map(([id]) => id)
    const until = this.clock.now() + maxWaitMs
    for (const target of candidates) {
      if (this.clock.now() >= until || this.driver.raw.leader() !== this.opts.id) return
      if (!this.driver.transferLeader(target)) return
      const attemptEnd = Math.min(until, this.clock.now() + this.opts.electionMs)
      while (this.clock.now() < attemptEnd && this.driver.raw.leader() === this.opts.id) await sleep(10)
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.sweepTimer)
    // Fails what waits, lets a Ready in flight finish its write and our own snapshot finish.
    await this.driver.stop()
    await this.opts.transport.stop()
    await this.opts.durable.close()
  }

  /** The leader proposes a time-stamped expiry sweep when some TTL has passed (TTL-6). */
  private maybeSweep(): void {
    if (this.closed || this.driver.raw.role() !== Role.Leader) return
    const next = this.sm.store.nextExpiryMs()
    const now = this.clock.now()
    if (next === undefined || next > now) return
    const payload: Payload = { k: 'cmd', t: now, c: { op: 'expire' } }
    this.driver.enqueue(JSON.stringify(payload))
  }

  /** Publishes our name and client URLs once a leader is known, until the log has them (MEM-1). */
  private maybePublish(now: number): void {
    if (this.published || this.driver.raw.leader() === NONE) return
    const me = this.sm.membership.get(this.opts.id)
    if (me && me.name === this.opts.name && sameList(me.clientURLs, this.opts.clientURLs)) {
      this.published = true
      return
    }
    if (!me || now - this.lastPublishAttempt < this.opts.electionMs) return
    this.lastPublishAttempt = now
    const payload: Payload = { k: 'attr', id: this.opts.id, name: this.opts.name, clientURLs: this.opts.clientURLs }
    this.driver.enqueue(JSON.stringify(payload))
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
    const until = this.clock.now() + timeoutMs
    while (!this.closed && this.clock.now() < until) {
      this.maybePublish(this.clock.now())
      if (this.published) return true
      this.driver.schedule()
      await sleep(5)
    }
    return this.published
  }

  /** Proposals (writes and member changes) waiting to be applied, for etcd_server_proposals_pending. */
  pendingProposals(): number {
    return this.driver.pendingProposals()
  }

  /** Number of voting members. */
  voterCount(): number {
    return this.driver.raw.voters().length
  }

  /** Updates the advertised client URLs (after binding port 0) and republishes them. */
  setClientURLs(urls: string[]): void {
    this.opts.clientURLs = [...urls]
    this.published = false
    this.lastPublishAttempt = 0
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

  private log(level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void {
    this.opts.log?.(level, msg, fields)
  }

  /** For tests and status pages. */
  status(): ReturnType<RaftDriver['status']> {
    return this.driver.status()
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}
