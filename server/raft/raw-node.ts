// RawNode: the public face of the consensus core. The driver feeds it ticks, messages and requests
// and drains Ready batches, acknowledging each with advance(). Single-threaded, synchronous, pure.
import { assert } from './assert.js'
import { ProposalDroppedError } from './errors.js'
import { dropSupersededNotices } from './message.js'
import { decodeConfChange, encodeConfChange, newMessage, Raft, type RaftConfig } from './raft.js'
import type { Progress } from './progress.js'
import {
  type ConfChange, type ConfState, type Entry, EntryType, type HardState, type Message, MessageType,
  NONE, type NodeId, type Ready, Role, type SoftState,
} from './types.js'

export type { RaftConfig, Rand } from './raft.js'

/** A snapshot of the node's state for status pages, tests and checkers. */
export interface Status {
  id: NodeId
  term: number
  vote: NodeId
  commit: number
  applied: number
  lead: NodeId
  role: Role
  firstIndex: number
  lastIndex: number
  voters: NodeId[]
  leadTransferee: NodeId
  /** Leader only: per-voter replication progress (live objects; read only). */
  progress?: ReadonlyMap<NodeId, Progress>
}

const LOCAL_TYPES = new Set<MessageType>([
  MessageType.Hup, MessageType.Beat, MessageType.SnapStatus, MessageType.Unreachable,
])
const RESPONSE_TYPES = new Set<MessageType>([
  MessageType.AppResp, MessageType.VoteResp, MessageType.PreVoteResp, MessageType.HeartbeatResp,
])

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit
}

export class RawNode {
  /** The state machine itself. Exposed for tests and checkers; drivers use the methods below. */
  readonly raft: Raft
  private prevSoftState: SoftState
  private prevHardState: HardState
  /** A Ready was handed out and not yet advanced. */
  private outstanding: Ready | undefined

  /**
   * Creates a node over `config.storage`. If the storage is empty and config.peers is non-empty,
   * bootstraps a new cluster: one committed ConfChange 'add' entry per peer at term 1, handed out
   * in the first Ready like any other entries (persist them, then apply them with applyConfChange).
   */
  constructor(config: RaftConfig) {
    this.raft = new Raft(config)
    this.prevSoftState = this.raft.softState()
    this.prevHardState = this.raft.hardState()
    const peers = config.peers ?? []
    const st = config.storage
    if (peers.length > 0 && st.lastIndex() === 0 && this.raft.term === 0) this.bootstrap(peers, config.peerContexts)
  }

  private bootstrap(peers: NodeId[], contexts?: Record<NodeId, string>): void {
    const r = this.raft
    r.becomeFollower(1, NONE)
    const ents: Entry[] = peers.map((id, i) => ({
      term: 1, index: i + 1, type: EntryType.ConfChange, data: encodeConfChange(contexts?.[id] === undefined ? { type: 'add', id } : { type: 'add', id, context: contexts[id] }),
    }))
    r.log.append(ents)
    r.log.committed = ents.length
    r.confReflectedThrough = ents.length
    for (const id of peers) r.applyConfChange({ type: 'add', id })
  }

  /** Advances logical time by one tick (drives elections and heartbeats). */
  tick(): void {
    this.raft.tick()
  }

  /** Starts an election now (pre-vote first if enabled). */
  campaign(): void {
    this.raft.step(newMessage(MessageType.Hup, this.raft.id, this.raft.id, 0))
  }

  /**
   * Proposes `data` for the log (a follower forwards it to the leader). Throws ProposalDroppedError
   * when it cannot be accepted now (no leader, leader transfer in progress, ...). Acceptance is no
   * promise of commitment: a forwarded or uncommitted proposal can still be lost.
   */
  propose(data: string): void {
    this.proposeEntries([{ term: 0, index: 0, type: EntryType.Normal, data }])
  }

  /** Proposes several commands at once (one append, one message per follower). */
  proposeBatch(data: readonly string[]): void {
    if (data.length === 0) return
    const ents: Entry[] = new Array(data.length)
    for (let k = 0; k < data.length; k++) ents[k] = { term: 0, index: 0, type: EntryType.Normal, data: data[k]! }
    this.proposeEntries(ents)
  }

  /**
   * Proposes a single-member configuration change. Only one may be pending at a time: throws
   * ProposalDroppedError('conf-change-pending') on the leader while an earlier one is unapplied.
   * When the entry is applied, call applyConfChange(decodeConfChange(entry.data)).
   */
  proposeConfChange(cc: ConfChange): void {
    this.proposeEntries([{ term: 0, index: 0, type: EntryType.ConfChange, data: encodeConfChange(cc) }])
  }

  private proposeEntries(ents: Entry[]): void {
    const m = newMessage(MessageType.Prop, this.raft.id, NONE, 0)
    m.entries = ents
    const dropped = this.raft.step(m)
    if (dropped) throw new ProposalDroppedError(dropped)
  }

  /**
   * Requests a linearizable read point. The answer arrives as a ReadState with this `context` in a
   * later Ready (once the leader confirmed its leadership with a quorum); serve the read once the
   * applied index reaches ReadState.index. Contexts must be unique among outstanding requests.
   * Throws ProposalDroppedError('no-leader') when no leader is known. Requests can still be lost
   * (leader change): the caller times out and retries.
   */
  readIndex(context: string): void {
    const m = newMessage(MessageType.ReadIndex, this.raft.id, NONE, 0)
    m.context = context
    const dropped = this.raft.step(m)
    if (dropped) throw new ProposalDroppedError(dropped)
  }

  /** Asks the leader to hand leadership to `transferee` (after catching it up). Best effort. */
  transferLeader(transferee: NodeId): void {
    const dropped = this.raft.step(newMessage(MessageType.TransferLeader, transferee, NONE, 0))
    if (dropped) throw new ProposalDroppedError(dropped)
  }

  /**
   * Delivers a message from a peer. Messages from the past term, duplicates and reordering are
   * handled; responses from peers not in the configuration are ignored, and so are local-only
   * message types (Hup, Beat, SnapStatus, Unreachable) arriving from the network.
   */
  step(m: Message): void {
    if (LOCAL_TYPES.has(m.type)) return
    if (RESPONSE_TYPES.has(m.type) && !this.raft.prs.has(m.from)) return
    this.raft.step(m)
  }

  /**
   * Applies a committed ConfChange: call it when applying the ConfChange entry (in log order, also
   * when replaying after a restart). Returns the resulting configuration (store it with the next
   * snapshot you create).
   */
  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc)
  }

  /** The transport could not reach `id`: the leader stops pipelining to it. */
  reportUnreachable(id: NodeId): void {
    this.raft.step(newMessage(MessageType.Unreachable, id, this.raft.id, 0))
  }

  /** The transport finished (ok) or failed sending a snapshot to `id`. */
  reportSnapshot(id: NodeId, ok: boolean): void {
    const m = newMessage(MessageType.SnapStatus, id, this.raft.id, 0)
    m.reject = !ok
    this.raft.step(m)
  }

  /**
   * Follower: takes the requests it relays to the leader (proposals, ReadIndex) out of the pending
   * messages, so the driver can send them at once, even while a Ready is being persisted: they carry
   * no term, commit index or log position, nothing that depends on this node's durable state.
   * Everything else stays for the next Ready. A leader has nothing to relay: returns [].
   */
  takeForwards(): Message[] {
    const r = this.raft
    if (r.role === Role.Leader || r.msgs.length === 0) return []
    let out: Message[] | undefined
    let keep: Message[] | undefined
    for (let k = 0; k < r.msgs.length; k++) {
      const m = r.msgs[k]!
      const fwd = (m.type === MessageType.Prop || m.type === MessageType.ReadIndex) && m.from === r.id && m.term === 0
      if (fwd) {
        if (!out) {
          out = []
          keep = r.msgs.slice(0, k)
        }
        out.push(m)
      } else if (keep) keep.push(m)
    }
    if (!out) return []
    // A fresh array: a Ready handed out earlier may still hold the old one.
    r.msgs = keep!
    return out
  }

  /** Whether ready() would return anything. */
  hasReady(): boolean {
    const r = this.raft
    if (r.hasPendingFlush() || r.msgs.length > 0 || r.readStates.length > 0) return true
    const ss = this.prevSoftState
    if (r.lead !== ss.lead || r.role !== ss.role) return true
    const hs = this.prevHardState
    if (r.term !== hs.term || r.vote !== hs.vote || r.log.committed !== hs.commit) return true
    if (r.log.unstable.snapshot || r.log.hasUnstableEntries()) return true
    return r.log.hasNextCommittedEnts()
  }

  /**
   * The next batch of work (see Ready in types.ts and README.md). Call advance(rd) before the next
   * ready(). The returned arrays belong to the caller.
   */
  ready(): Ready {
    assert(this.outstanding === undefined, 'ready() called again before advance()')
    const r = this.raft
    r.flushAppends()
    const rd: Ready = {
      entries: r.log.unstableEntries(),
      committedEntries: r.log.nextCommittedEnts(),
      messages: dropSupersededNotices(r.msgs),
      readStates: r.readStates,
      mustSync: false,
    }
    r.msgs = []
    r.readStates = []
    const ss = r.softState()
    if (ss.lead !== this.prevSoftState.lead || ss.role !== this.prevSoftState.role) rd.softState = ss
    const hs = r.hardState()
    if (!sameHardState(hs, this.prevHardState)) rd.hardState = hs
    if (r.log.unstable.snapshot) rd.snapshot = r.log.unstable.snapshot
    rd.mustSync = rd.entries.length > 0 || rd.snapshot !== undefined ||
      hs.term !== this.prevHardState.term || hs.vote !== this.prevHardState.vote
    this.outstanding = rd
    return rd
  }

  /** Acknowledges that `rd` was persisted, sent and applied. */
  advance(rd: Ready): void {
    assert(this.outstanding === rd, 'advance() with a Ready that is not the outstanding one')
    this.outstanding = undefined
    const r = this.raft
    if (rd.softState) this.prevSoftState = rd.softState
    if (rd.hardState) this.prevHardState = rd.hardState
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1]!
      r.log.stableTo(last.index, last.term)
    }
    if (rd.snapshot) {
      r.log.stableSnapTo(rd.snapshot.metadata.index)
      if (rd.snapshot.metadata.index > r.log.applied) r.log.applied = rd.snapshot.metadata.index
    }
    if (rd.committedEntries.length > 0) r.log.appliedTo(rd.committedEntries[rd.committedEntries.length - 1]!.index)
  }

  /** The current term. */
  term(): number {
    return this.raft.term
  }

  /** The leader this node knows of (NONE during an election). */
  leader(): NodeId {
    return this.raft.lead
  }

  role(): Role {
    return this.raft.role
  }

  /** The highest log index known to be committed. */
  committed(): number {
    return this.raft.log.committed
  }

  /** The voting members (the live array: read only; copy it to keep it). */
  voters(): readonly NodeId[] {
    return this.raft.voters
  }

  status(): Status {
    const r = this.raft
    const st: Status = {
      id: r.id, term: r.term, vote: r.vote, commit: r.log.committed, applied: r.log.applied,
      lead: r.lead, role: r.role, firstIndex: r.log.firstIndex(), lastIndex: r.log.lastIndex(),
      voters: [...r.voters], leadTransferee: r.leadTransferee,
    }
    if (r.role === Role.Leader) st.progress = r.prs
    return st
  }
}

export { decodeConfChange, encodeConfChange }
