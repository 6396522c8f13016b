// Message construction helpers shared by the step functions. Pure; no I/O.
import type { Entry, Message, MessageType, NodeId } from './types.js'
import { MessageType as MT } from './types.js'

/** Context value marking a vote request caused by leadership transfer (bypasses the lease). */
export const CAMPAIGN_TRANSFER = 'CampaignTransfer'

/** Shared empty entries array for messages without entries (never mutated). */
export const NO_ENTRIES: Entry[] = []

/**
 * Context of an empty App that only carries a new commit index to a replicating follower (every
 * entry up to prevIndex was sent to it): a follower that has those entries applies the commit and
 * sends no AppResp. That answer could only repeat what its answer to the appends themselves says
 * (same last index, sent after the same write), and under load it was a sixth of all peer
 * messages. A follower that lacks them still rejects, so a lost append is found as before.
 * Liveness does not depend on the notice: heartbeats keep the follower active for check-quorum,
 * and any append the leader sends when it knows less (probe, new entries) is answered as usual.
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
