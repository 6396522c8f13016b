// Public surface of the consensus core (see README.md for the Ready contract).
export { RawNode, type Status, type RaftConfig, type Rand } from './raw-node.js'
export { decodeConfChange, encodeConfChange, CAMPAIGN_TRANSFER } from './raft.js'
export { MemoryStorage, type Storage, type InitialState, entrySize, isEmptySnapshot } from './storage.js'
export {
  ProposalDroppedError, type DropReason, CompactedError, UnavailableError,
  SnapshotTemporarilyUnavailableError, SnapshotOutOfDateError,
} from './errors.js'
export { InvariantError } from './assert.js'
export { describeMessage, describeReady, describeEntry, describeEntries, shortId } from './describe.js'
export * from './types.js'
