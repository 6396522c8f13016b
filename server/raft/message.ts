// Message construction helpers shared by the step functions. Pure; no I/O.
import type { Entry, Message, MessageType, NodeId } from './types.js'
import { MessageType as MT } from './types.js'

/** Context value marking a vote request caused by leadership transfer (bypasses the lease). */
export const CAMPAIGN_TRANSFER = 'CampaignTransfer'

/** Shared empty entries array for messages without entries (never mutated). */
export const NO_ENTRIES: Entry[] = []

/**
 * Context of an empty App that only carries a new commit index to a replicating follower: one the
 * leader knows is caught up (match = prevIndex), or any replicating follower when the leader
 * broadcasts a commit (Raft.bcastAppend; appends to it may be in flight). A follower that has the
 * entries up to prevIndex applies the commit and sends no AppResp: that answer could only repeat
 * what its answer to the appends themselves says (same last index, sent after the same write), and
 * under load it was a sixth of all peer messages. A follower that lacks them still rejects.
 * Liveness does not depend on the notice: heartbeats keep the follower active for check-quorum,
 * and an append the leader sends because it knows less (a probe, recovering a lost answer after a
 * heartbeat, catching up a transfer target, new entries) is not a notice and is answered as usual.
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

/**
 * Drops each commit notice that a later App to the same follower in the same batch supersedes
 * (same term, at least the same commit index): the follower learns the commit from that App, in
 * order. When a round trip commits and new proposals go out in one turn, the notice is redundant.
 */
export function dropSupersededNotices(msgs: Message[]): Message[] {
  if (!msgs.some((m) => m.context === COMMIT_NOTICE)) return msgs
  const later = new Map<NodeId, Message>() // the last App seen so far, scanning from the end
  const keep: boolean[] = new Array<boolean>(msgs.length).fill(true)
  let dropped = 0
  for (let k = msgs.length - 1; k >= 0; k--) {
    const m = msgs[k]!
    if (m.type !== MT.App) continue
    const next = later.get(m.to)
    if (m.context === COMMIT_NOTICE && next !== undefined && next.term === m.term && next.commit >= m.commit) {
      keep[k] = false
      dropped++
      continue
    }
    later.set(m.to, m)
  }
  return dropped === 0 ? msgs : msgs.filter((_, k) => keep[k])
}
