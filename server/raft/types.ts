// Shared Raft vocabulary: entries, hard state, snapshots, messages and the Ready batch.
// Pure data types only; the consensus core (server/raft), the WAL (server/wal), the snapshotter
// (server/snap) and the peer transport (server/transport) all speak these.

/** A member id: etcd's 64-bit id as 16 lower-case hex digits (e.g. "8e9e05c52164694d"). */
export type NodeId = string
/** "No node": no leader known, no vote cast. */
export const NONE: NodeId = ''

export enum EntryType {
  /** Application command (JSON text) or, with empty data, the leader's no-op of a new term. */
  Normal = 0,
  /** A single-member configuration change; data is JSON of ConfChange. */
  ConfChange = 1,
}

/** One log entry. Index and term are exact in a JS number up to 2^53. */
export interface Entry {
  term: number
  index: number
  type: EntryType
  /** Opaque to Raft. For Normal entries the server's JSON command; '' for the no-op. */
  data: string
}

/** What must be durable before any message that depends on it is sent (§5.1, Figure 2). */
export interface HardState {
  term: number
  vote: NodeId
  commit: number
}

/** The voting members at a point of the log. */
export interface ConfState {
  voters: NodeId[]
}

export interface SnapshotMetadata {
  index: number
  term: number
  conf: ConfState
}

/** A state-machine snapshot. data is the server's serialised state (store + members), opaque here. */
export interface Snapshot {
  metadata: SnapshotMetadata
  data: string
  /**
   * `data` in pieces, when it was built by concatenation (a rope): a sender writes them one by one
   * instead of slicing `data`, which would first copy all of it into one flat string. Local only.
   */
  pieces?: readonly string[]
}

export type ConfChangeType = 'add' | 'remove' | 'update'

/** Payload of a ConfChange entry. context carries the member's attributes (name, peer URLs) for the server. */
export interface ConfChange {
  type: ConfChangeType
  id: NodeId
  context?: string
}

export enum MessageType {
  Hup = 'Hup', // local: start an election
  Beat = 'Beat', // local: leader sends heartbeats
  Prop = 'Prop', // proposal (local, or forwarded from a follower to the leader)
  App = 'App', // AppendEntries
  AppResp = 'AppResp',
  Vote = 'Vote',
  VoteResp = 'VoteResp',
  PreVote = 'PreVote',
  PreVoteResp = 'PreVoteResp',
  Snap = 'Snap', // InstallSnapshot
  SnapStatus = 'SnapStatus', // local: transport reports a snapshot send finished/failed
  Unreachable = 'Unreachable', // local: transport reports a peer unreachable
  Heartbeat = 'Heartbeat',
  HeartbeatResp = 'HeartbeatResp',
  TransferLeader = 'TransferLeader',
  TimeoutNow = 'TimeoutNow',
  ReadIndex = 'ReadIndex',
  ReadIndexResp = 'ReadIndexResp',
}

/** A Raft message. Fields not used by a type are left at their zero value. */
export interface Message {
  type: MessageType
  from: NodeId
  to: NodeId
  term: number
  /** App: term of the entry at `index` (prevLogTerm). Vote: last log term. */
  logTerm: number
  /** App: prevLogIndex. AppResp: last index matched (or rejected index). Vote: last log index. */
  index: number
  entries: Entry[]
  commit: number
  reject: boolean
  rejectHint: number
  snapshot?: Snapshot
  /** ReadIndex request context, heartbeat context; opaque bytes as a string. */
  context?: string
}

/** The answer to a ReadIndex request: once applied >= index, a read with this context is linearizable. */
export interface ReadState {
  index: number
  context: string
}

export enum Role {
  Follower = 'follower',
  Candidate = 'candidate',
  PreCandidate = 'pre-candidate',
  Leader = 'leader',
}

export interface SoftState {
  lead: NodeId
  role: Role
}

/**
 * A batch of work handed out by the core. The caller must, in order:
 *  1. persist snapshot (if any), hardState (if any) and entries (fsync when mustSync);
 *  2. send messages (only after step 1 is durable);
 *  3. apply committedEntries in order;
 *  4. call advance().
 */
export interface Ready {
  softState?: SoftState
  hardState?: HardState
  /** New entries to append; they replace any persisted suffix starting at entries[0].index. */
  entries: Entry[]
  snapshot?: Snapshot
  committedEntries: Entry[]
  messages: Message[]
  readStates: ReadState[]
  /** True when term, vote or the log changed, so the write must be fsynced before sending. */
  mustSync: boolean
}
