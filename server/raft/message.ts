// Message construction helpers shared by the step functions. Pure; no I/O.
import type { Entry, Message, MessageType, NodeId } from './types.js'
import { MessageType as MT } from './types.js'

/** Context value marking a vote request caused by leadership transfer (bypasses the lease). */
export const CAMPAIGN_TRANSFER = 'CampaignTransfer'

/** Shared empty entries array for messages without entries (never mutated). */
export const NO_ENTRIES: Entry[] = []

/**
 * Context of an empty App that only carries a new commit index to a follower the leader knows is
 * fully caught up (replicating, match = prevIndex = last index): the follower applies the commit
 * and sends no AppResp, which could tell the leader nothing it does not know. Liveness does not
 * depend on it: heartbeats keep the follower active for check-quorum, and any append the leader
 * sends when it knows less (probe, lost ack, new entries) is answered as usual.
 */
export const COMMIT_NOTICE = 'c'


/** A message with every field at its zero value (one object shape for all messages). */
export function newMessage(type: MessageType, from: NodeId, to: NodeId, term: number): Message {
  return {
    type, from, to, term, logTerm: 0, index: 0, entries: NO_ENTRIES, commit: 0, reject: false,
    rejectHint: 0, snapshot: undefined, context: undefined,
  }
}

/** The response type of a (pre-)vote request. */
export function voteRespType(t: MessageType): MessageType {
  return t === MT.Vote ? MT.VoteResp : MT.PreVoteResp
}
