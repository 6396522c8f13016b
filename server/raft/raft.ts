// The Raft state machine: roles (follower, pre-candidate, candidate, leader), elections with
// pre-vote and check-quorum, log replication, commitment, ReadIndex, leadership transfer and
// single-member configuration changes. Pure: no timers, I/O, clocks or ambient randomness;
// time is tick(), randomness comes only from config.rand, output is queued in msgs/readStates.
import { assert } from './assert.js'
import { CompactedError, type DropReason, SnapshotTemporarilyUnavailableError } from './errors.js'
import { RaftLog } from './log.js'
import { Progress } from './progress.js'
import { committedIndex, majority, voteResult } from './quorum.js'
import { CAMPAIGN_TRANSFER, COMMIT_NOTICE, newMessage, NO_ENTRIES, voteRespType } from './message.js'
import { ReadOnly } from './read-only.js'
import { stepFollower, stepCandidate } from './step-follower.js'
import { stepLeader } from './step-leader.js'
import { isEmptySnapshot, type Storage } from './storage.js'
import {
  type ConfChange, type ConfState, type Entry, EntryType, type HardState, type Message, MessageType,
  NONE, type NodeId, type ReadState, Role, type Snapshot, type SoftState,
} from './types.js'

/** The only source of randomness in the core. intn(n) returns an integer in [0, n). */
export interface Rand {
  intn(n: number): number
}

export interface RaftConfig {
  /** This node's id (non-empty). */
  id: NodeId
  /**
   * Bootstrap members of a brand-new cluster. Used only when the storage is empty: RawNode then
   * writes one ConfChange 'add' entry per peer at term 1 (committed), as etcd does. Leave empty
   * when restarting or when joining an existing cluster.
   */
  peers?: NodeId[]
  /** Optional context (member attributes, opaque to Raft) for each bootstrap peer's ConfChange entry. */
  peerContexts?: Record<NodeId, string>
  /** Followers campaign after a randomized timeout in [electionTicks, 2*electionTicks). */
  electionTicks: number
  /** The leader sends heartbeats every heartbeatTicks. Must be < electionTicks. */
  heartbeatTicks: number
  /** Read-only view of the durable log (the driver appends to it after persisting). */
  storage: Storage
  rand: Rand
  /** Last applied index on restart (the driver's state machine is at least this new). Default: snapshot index. */
  applied?: number
  /** Upper bound on the size of entries per AppendEntries message. Default 1 MiB. */
  maxBytesPerMsg?: number
  /** Upper bound on in-flight append messages per follower in replicate state. Default 256. */
  maxInflightMsgs?: number
  /** Upper bound on the size of committed entries per Ready. Default unlimited. */
  maxCommittedBytesPerReady?: number
  /** Leader steps down without a recent majority; followers ignore votes within the lease. Default true. */
  checkQuorum?: boolean
  /** Run a pre-vote round before incrementing the term (thesis §9.6). Default true. */
  preVote?: boolean
  /** Followers drop proposals instead of forwarding them to the leader. Default false. */
  disableProposalForwarding?: boolean
}

/** Context value marking a vote request caused by leadership transfer (bypasses the lease). */
export { CAMPAIGN_TRANSFER } from './message.js'
export { newMessage }

/** ConfChange entries carry the change as JSON. */
export function encodeConfChange(cc: ConfChange): string {
  return JSON.stringify(cc.context === undefined ? { type: cc.type, id: cc.id } : { type: cc.type, id: cc.id, context: cc.context })
}

export function decodeConfChange(data: string): ConfChange {
  return JSON.parse(data) as ConfChange
}

export type CampaignType = 'pre-election' | 'election' | 'transfer'

export class Raft {
  readonly id: NodeId
  term = 0
  vote: NodeId = NONE
  lead: NodeId = NONE
  role: Role = Role.Follower
  readonly log: RaftLog
  /** Replication progress of every voter, self included. */
  readonly prs = new Map<NodeId, Progress>()
  /** Current voters (the tracked configuration). */
  voters: NodeId[] = []
  readonly votes = new Map<NodeId, boolean>()
  /** Outgoing messages, drained by RawNode.ready(). */
  msgs: Message[] = []
  /** ReadIndex answers for local requests, drained by RawNode.ready(). */
  readStates: ReadState[] = []
  readonly readOnly = new ReadOnly()
  /** ReadIndex requests that arrived before this leader committed an entry of its term. */
  pendingReadIndexMessages: Message[] = []
  /** Leader: transfer target, NONE when no transfer is in progress. */
  leadTransferee: NodeId = NONE
  /** Leader: index of the latest conf change entry; a new one is allowed only once applied >= it. */
  pendingConfIndex = 0
  /** Ticks since the last election timeout reset (follower/candidate) or check-quorum round (leader). */
  electionElapsed = 0
  heartbeatElapsed = 0
  randomizedElectionTimeout = 0
  readonly electionTimeout: number
  readonly heartbeatTimeout: number
  readonly checkQuorum: boolean
  readonly preVote: boolean
  readonly maxBytesPerMsg: number
  readonly maxInflight: number
  readonly disableProposalForwarding: boolean
  private readonly rand: Rand
  /**
   * Conf change entries up to this index are already reflected in the tracked configuration even if
   * the caller has not applied them yet (the bootstrap entries), so they do not block campaigning.
   */
  confReflectedThrough = 0
  /** @internal Leader: proposals were appended since the last flush; followers need an append. */
  needsBcast = false

  constructor(c: RaftConfig) {
    assert(c.id !== NONE, 'cannot use NONE as id')
    assert(c.heartbeatTicks > 0, 'heartbeat tick must be greater than 0')
    assert(c.electionTicks > c.heartbeatTicks, 'election tick must be greater than heartbeat tick')
    this.id = c.id
    this.electionTimeout = c.electionTicks
    this.heartbeatTimeout = c.heartbeatTicks
    this.checkQuorum = c.checkQuorum ?? true
    this.preVote = c.preVote ?? true
    this.maxBytesPerMsg = c.maxBytesPerMsg ?? 1024 * 1024
    this.maxInflight = c.maxInflightMsgs ?? 256
    this.disableProposalForwarding = c.disableProposalForwarding ?? false
    this.rand = c.rand
    this.log = new RaftLog(c.storage, c.maxCommittedBytesPerReady ?? Infinity)
    const { hardState, confState } = c.storage.initialState()
    this.setConfig(confState.voters)
    if (hardState.term !== 0 || hardState.vote !== NONE || hardState.commit !== 0) this.loadState(hardState)
    if (c.applied !== undefined && c.applied > 0) this.log.appliedTo(c.applied)
    this.becomeFollower(this.term, NONE)
  }

  private loadState(hs: HardState): void {
    assert(hs.commit <= this.log.lastIndex(),
      () => `${this.id} state.commit ${hs.commit} is out of range [${this.log.committed}, ${this.log.lastIndex()}]`)
    // A commit index below the snapshot can be durable if the commit-only HardState write was not
    // fsynced before a local snapshot; the snapshot itself proves commitment up to its index.
    this.log.committed = Math.max(hs.commit, this.log.committed)
    this.term = hs.term
    this.vote = hs.vote
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed }
  }

  softState(): SoftState {
    return { lead: this.lead, role: this.role }
  }

  /** Whether this node may campaign: it is a voter and has no snapshot waiting to be persisted. */
  promotable(): boolean {
    return this.prs.has(this.id) && this.log.unstable.snapshot === undefined
  }

  // ---- output ----

  /** @internal (step-leader.ts / step-follower.ts) */
  send(m: Message): void {
    this.msgs.push(m)
  }

  /** Leader: sends pending proposals to followers (batched: one append per follower per flush). */
  flushAppends(): void {
    if (!this.needsBcast) return
    this.needsBcast = false
    if (this.role !== Role.Leader) return
    for (const id of this.prs.keys()) {
      if (id === this.id) continue
      while (this.maybeSendAppend(id, false)) { /* fill the inflight window */ }
    }
  }

  /** Whether flushAppends would produce messages (part of RawNode.hasReady). */
  hasPendingFlush(): boolean {
    return this.needsBcast && this.role === Role.Leader
  }

  /**
   * Sends an append (or a snapshot) to `to`; false if paused or, unless sendIfEmpty, nothing new.
   * commitBroadcast: an empty append only announces a new commit index, so a replicating follower
   * is not asked to answer it even while appends to it are in flight (see COMMIT_NOTICE).
   */
  maybeSendAppend(to: NodeId, sendIfEmpty: boolean, commitBroadcast = false): boolean {
    const pr = this.prs.get(to)
    if (!pr || pr.isPaused()) return false
    const prevIndex = pr.next - 1
    let prevTerm = 0
    let ents: Entry[] = NO_ENTRIES
    let compacted = false
    try {
      prevTerm = this.log.term(prevIndex)
      if (pr.next <= this.log.lastIndex()) ents = this.log.entries(pr.next, this.maxBytesPerMsg)
    } catch (e) {
      if (!(e instanceof CompactedError)) throw e
      compacted = true
    }
    if (compacted) {
      if (!pr.recentActive) return false
      let snap: Snapshot
      try {
        snap = this.log.snapshot()
      } catch (e) {
        if (e instanceof SnapshotTemporarilyUnavailableError) return false
        throw e
      }
      assert(!isEmptySnapshot(snap), 'need non-empty snapshot')
      pr.becomeSnapshot(snap.metadata.index)
      const m = newMessage(MessageType.Snap, this.id, to, this.term)
      m.snapshot = snap
      this.send(m)
      return true
    }
    if (ents.length === 0 && !sendIfEmpty) return false
    const m = newMessage(MessageType.App, this.id, to, this.term)
    m.index = prevIndex
    m.logTerm = prevTerm
    m.entries = ents
    m.commit = this.log.committed
    if (ents.length > 0) pr.sentEntries(ents.length, ents[ents.length - 1]!.index)
    else if (pr.state === 'replicate' && (pr.match === prevIndex || commitBroadcast)) m.context = COMMIT_NOTICE
    this.send(m)
    return true
  }

  /** @internal (step-leader.ts / step-follower.ts) */
  sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true)
  }

  private sendHeartbeat(to: NodeId, ctx: string | undefined): void {
    const pr = this.prs.get(to)!
    const m = newMessage(MessageType.Heartbeat, this.id, to, this.term)
    // A follower may not have the leader's committed entries yet; never tell it to commit beyond match.
    m.commit = Math.min(pr.match, this.log.committed)
    m.context = ctx
    this.send(m)
  }

  /** Sends an append to every follower (carrying the commit index even if there are no entries). */
  bcastAppend(): void {
    for (const id of this.prs.keys()) if (id !== this.id) this.maybeSendAppend(id, true, true)
  }

  bcastHeartbeat(): void {
    const ctx = this.readOnly.lastPendingRequestCtx()
    this.bcastHeartbeatWithCtx(ctx === '' ? undefined : ctx)
  }

  /** @internal (step-leader.ts / step-follower.ts) */
  bcastHeartbeatWithCtx(ctx: string | undefined): void {
    for (const id of this.prs.keys()) if (id !== this.id) this.sendHeartbeat(id, ctx)
  }

  // ---- configuration ----

  /** Replaces the tracked voter set, keeping progress of members that remain. */
  /** @internal (step-leader.ts / step-follower.ts) */
  setConfig(voters: readonly NodeId[]): void {
    this.voters = [...voters]
    for (const id of [...this.prs.keys()]) if (!voters.includes(id)) this.prs.delete(id)
    const last = this.log.lastIndex()
    for (const id of voters) {
      if (this.prs.has(id)) continue
      const pr = new Progress(last + 1, this.maxInflight)
      // A new member counts as active so check-quorum does not depose the leader right away.
      pr.recentActive = true
      if (id === this.id) pr.match = last
      this.prs.set(id, pr)
    }
  }

  /**
   * Applies a committed ConfChange (the caller calls this when it applies the entry) and returns
   * the new configuration. A leader removed from the configuration steps down after telling the
   * others the commit index and nudging the most up-to-date voter to campaign.
   */
  applyConfChange(cc: ConfChange): ConfState {
    let voters = this.voters
    switch (cc.type) {
      case 'add':
        if (!voters.includes(cc.id)) voters = [...voters, cc.id]
        break
      case 'remove':
        voters = voters.filter((v) => v !== cc.id)
        break
      case 'update':
        break
    }
    this.setConfig(voters)
    if (this.role === Role.Leader && voters.length > 0) {
      if (!voters.includes(this.id)) {
        this.stepDownRemovedLeader()
      } else {
        if (this.maybeCommit()) this.bcastAppend()
        else for (const id of this.prs.keys()) if (id !== this.id) this.maybeSendAppend(id, false)
        if (this.leadTransferee !== NONE && !voters.includes(this.leadTransferee)) this.abortLeaderTransfer()
      }
    } else if ((this.role === Role.Candidate || this.role === Role.PreCandidate) && !voters.includes(this.id)) {
      // A removed member must not win an election it started before learning of its removal.
      this.becomeFollower(this.term, NONE)
    }
    return { voters: [...this.voters] }
  }

  private stepDownRemovedLeader(): void {
    // The removal itself is committed; make sure the remaining voters learn that, then hand over.
    this.bcastAppend()
    const last = this.log.lastIndex()
    let best: NodeId = NONE
    for (const [id, pr] of this.prs) if (pr.match === last) { best = id; break }
    if (best !== NONE) this.send(newMessage(MessageType.TimeoutNow, this.id, best, this.term))
    this.becomeFollower(this.term, NONE)
  }

  /** Committed but unapplied ConfChange entries exist (then campaigning is unsafe). */
  private hasUnappliedConfChanges(): boolean {
    if (this.log.applied >= this.log.committed) return false
    const lo = Math.max(this.log.applied + 1, this.confReflectedThrough + 1, this.log.firstIndex())
    if (lo > this.log.committed) return false
    const ents = this.log.slice(lo, this.log.committed + 1, Infinity)
    for (const e of ents) if (e.type === EntryType.ConfChange) return true
    return false
  }

  // ---- role transitions ----

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term
      this.vote = NONE
    }
    this.lead = NONE
    this.electionElapsed = 0
    this.heartbeatElapsed = 0
    this.resetRandomizedElectionTimeout()
    this.abortLeaderTransfer()
    this.votes.clear()
    const last = this.log.lastIndex()
    for (const id of this.prs.keys()) {
      const np = new Progress(last + 1, this.maxInflight)
      if (id === this.id) np.match = last
      this.prs.set(id, np)
    }
    this.pendingConfIndex = 0
    this.needsBcast = false
    this.readOnly.reset()
    this.pendingReadIndexMessages = []
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.electionTimeout + this.rand.intn(this.electionTimeout)
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term)
    this.lead = lead
    this.role = Role.Follower
  }

  becomePreCandidate(): void {
    assert(this.role !== Role.Leader, 'invalid transition [leader -> pre-candidate]')
    // Pre-vote changes neither term nor vote.
    this.votes.clear()
    this.lead = NONE
    this.role = Role.PreCandidate
  }

  becomeCandidate(): void {
    assert(this.role !== Role.Leader, 'invalid transition [leader -> candidate]')
    this.reset(this.term + 1)
    this.vote = this.id
    this.role = Role.Candidate
  }

  becomeLeader(): void {
    assert(this.role !== Role.Follower, 'invalid transition [follower -> leader]')
    assert(this.prs.has(this.id), 'a non-member cannot become leader')
    this.reset(this.term)
    this.lead = this.id
    this.role = Role.Leader
    const self = this.prs.get(this.id)!
    self.becomeReplicate()
    self.recentActive = true
    // Conservatively, any conf change in the uncommitted tail counts as pending.
    this.pendingConfIndex = this.log.lastIndex()
    // §5.4.2 / §8: an entry of the new term lets the leader commit everything before it.
    this.appendEntry([{ term: 0, index: 0, type: EntryType.Normal, data: '' }])
  }

  /** Leader: stamps term/index on fresh entry objects (owned by this raft), appends and tries to commit. */
  /** @internal (step-leader.ts / step-follower.ts) */
  appendEntry(ents: Entry[]): void {
    let li = this.log.lastIndex()
    for (let k = 0; k < ents.length; k++) {
      const e = ents[k]!
      e.term = this.term
      e.index = ++li
    }
    this.log.append(ents)
    this.prs.get(this.id)!.maybeUpdate(this.log.lastIndex())
    this.maybeCommit()
  }

  /** Advances the commit index to what a majority has, if that is an entry of this term (§5.4.2). */
  maybeCommit(): boolean {
    const mci = committedIndex(this.voters, (id) => this.prs.get(id)?.match ?? 0)
    return this.log.maybeCommit(mci, this.term)
  }

  /** @internal (step-leader.ts / step-follower.ts) */
  committedEntryInCurrentTerm(): boolean {
    return this.log.zeroTerm(this.log.committed) === this.term
  }

  // ---- elections ----

  /** @internal (step-leader.ts / step-follower.ts) */
  campaign(t: CampaignType): void {
    if (!this.promotable()) return
    let voteMsg: MessageType
    let term: number
    if (t === 'pre-election') {
      this.becomePreCandidate()
      voteMsg = MessageType.PreVote
      term = this.term + 1 // the term we would campaign with
    } else {
      this.becomeCandidate()
      voteMsg = MessageType.Vote
      term = this.term
    }
    if (this.poll(this.id, true) === 'won') {
      // Single-voter cluster: we won outright.
      if (t === 'pre-election') this.campaign('election')
      else this.becomeLeader()
      return
    }
    const lastIndex = this.log.lastIndex()
    const lastTerm = this.log.lastTerm()
    for (const id of this.voters) {
      if (id === this.id) continue
      const m = newMessage(voteMsg, this.id, id, term)
      m.index = lastIndex
      m.logTerm = lastTerm
      if (t === 'transfer') m.context = CAMPAIGN_TRANSFER
      this.send(m)
    }
  }

  /** @internal (step-leader.ts / step-follower.ts) */
  poll(id: NodeId, granted: boolean) {
    if (!this.votes.has(id)) this.votes.set(id, granted)
    return voteResult(this.voters, this.votes)
  }

  // ---- ticks ----

  tick(): void {
    if (this.role === Role.Leader) this.tickHeartbeat()
    else this.tickElection()
  }

  private tickElection(): void {
    this.electionElapsed++
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0
      this.step(newMessage(MessageType.Hup, this.id, this.id, 0))
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++
    this.electionElapsed++
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0
      if (this.checkQuorum) {
        if (!this.quorumActive()) {
          this.becomeFollower(this.term, NONE)
          return
        }
        for (const [id, pr] of this.prs) pr.recentActive = id === this.id
      }
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.leadTransferee !== NONE) this.abortLeaderTransfer()
    }
    if (this.role !== Role.Leader) return
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0
      this.bcastHeartbeat()
    }
  }

  /** A majority of voters (self included) was heard from since the last check. */
  private quorumActive(): boolean {
    let active = 0
    for (const id of this.voters) {
      if (id === this.id || this.prs.get(id)?.recentActive) active++
    }
    return active >= majority(this.voters.length)
  }

  /** @internal (step-leader.ts / step-follower.ts) */
  abortLeaderTransfer(): void {
    this.leadTransferee = NONE
  }

  // ---- step ----

  /**
   * Processes one message. Returns a DropReason when a local proposal, ReadIndex or transfer
   * request could not be accepted (RawNode turns it into ProposalDroppedError).
   */
  step(m: Message): DropReason | undefined {
    if (m.term === 0) {
      // Local message (or a forwarded Prop/ReadIndex, which carry no term).
    } else if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        const force = m.context === CAMPAIGN_TRANSFER
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout
        // Check-quorum lease: with a live leader, ignore disruptive candidates (thesis §4.2.3).
        if (!force && inLease) return undefined
      }
      if (m.type === MessageType.PreVote) {
        // Never change our term in response to a pre-vote.
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // The pre-candidate bumps its term only once it wins the pre-vote.
      } else if (m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap) {
        this.becomeFollower(m.term, m.from)
      } else {
        this.becomeFollower(m.term, NONE)
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === MessageType.Heartbeat || m.type === MessageType.App)) {
        // A stale leader (e.g. back from a partition) learns our term and steps down; without
        // this, a node that only pre-votes could never learn the higher term and would stay stuck.
        this.send(newMessage(MessageType.AppResp, this.id, m.from, this.term))
      } else if (m.type === MessageType.PreVote) {
        const r = newMessage(MessageType.PreVoteResp, this.id, m.from, this.term)
        r.reject = true
        this.send(r)
      }
      return undefined
    }

    switch (m.type) {
      case MessageType.Hup:
        this.hup(this.preVote ? 'pre-election' : 'election')
        return undefined
      case MessageType.Vote:
      case MessageType.PreVote: {
        const canVote = this.vote === m.from ||
          (this.vote === NONE && this.lead === NONE) ||
          (m.type === MessageType.PreVote && m.term > this.term)
        if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
          // Reply with the request's term: a granted pre-vote must not look stale to the pre-candidate.
          this.send(newMessage(voteRespType(m.type), this.id, m.from, m.term))
          if (m.type === MessageType.Vote) {
            this.electionElapsed = 0
            this.vote = m.from
          }
        } else {
          const r = newMessage(voteRespType(m.type), this.id, m.from, this.term)
          r.reject = true
          this.send(r)
        }
        return undefined
      }
      default:
        switch (this.role) {
          case Role.Leader:
            return stepLeader(this, m)
          case Role.Candidate:
          case Role.PreCandidate:
            return stepCandidate(this, m)
          case Role.Follower:
            return stepFollower(this, m)
        }
    }
  }

  /** @internal (step-leader.ts / step-follower.ts) */
  hup(t: CampaignType): void {
    if (this.role === Role.Leader) return
    if (!this.promotable()) return
    if (this.hasUnappliedConfChanges()) return
    this.campaign(t)
  }

}
