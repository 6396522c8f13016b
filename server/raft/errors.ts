// Typed, expected error conditions of the Raft core and its storage. Callers branch on `code`.
// Bugs are not here: they are InvariantError (assert.ts).

/** Why a proposal, ReadIndex request or conf change was not accepted. */
export type DropReason =
  | 'no-leader' // no leader is known (election in progress); retry later
  | 'transferring' // the leader is handing leadership over; retry later
  | 'conf-change-pending' // a conf change is already pending (one at a time)
  | 'not-member' // this node is not a voter of the current configuration
  | 'forwarding-disabled' // follower and proposal forwarding is off

/**
 * The core did not accept a proposal (or ReadIndex / conf change). Nothing was appended; the caller
 * may retry (after a leader is known). `retryable` is always true.
 */
export class ProposalDroppedError extends Error {
  readonly code = 'RAFT_PROPOSAL_DROPPED'
  readonly retryable = true
  constructor(readonly reason: DropReason) {
    super(`raft proposal dropped: ${reason}`)
    this.name = 'ProposalDroppedError'
  }
}

/** Storage: the requested index is below the first available index (compacted into a snapshot). */
export class CompactedError extends Error {
  readonly code = 'RAFT_COMPACTED'
  constructor(index: number) {
    super(`requested index ${index} is unavailable due to compaction`)
    this.name = 'CompactedError'
  }
}

/** Storage: the requested index is beyond the last index. */
export class UnavailableError extends Error {
  readonly code = 'RAFT_UNAVAILABLE'
  constructor(index: number) {
    super(`requested entry at index ${index} is unavailable`)
    this.name = 'UnavailableError'
  }
}

/** Storage: a snapshot is requested but one cannot be produced right now; the leader retries later. */
export class SnapshotTemporarilyUnavailableError extends Error {
  readonly code = 'RAFT_SNAPSHOT_UNAVAILABLE'
  constructor() {
    super('snapshot is temporarily unavailable')
    this.name = 'SnapshotTemporarilyUnavailableError'
  }
}

/** A snapshot older than the storage's current one was offered (MemoryStorage.applySnapshot/createSnapshot). */
export class SnapshotOutOfDateError extends Error {
  readonly code = 'RAFT_SNAPSHOT_OUT_OF_DATE'
  constructor(index: number, current: number) {
    super(`snapshot at ${index} is older than current snapshot at ${current}`)
    this.name = 'SnapshotOutOfDateError'
  }
}
