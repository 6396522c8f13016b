// Step functions of candidates and followers: elections' vote responses, AppendEntries with
// conflict hints, heartbeats, snapshots, forwarding proposals/ReadIndex/transfer to the leader.
// Part of the pure core: no I/O; output goes to r.msgs / r.readStates.
import type { DropReason } from './errors.js'
import { COMMIT_NOTICE, newMessage } from './message.js'
import type { Raft } from './raft.js'
import { type Message, MessageType, NONE, Role, type Snapshot } from './types.js'

/** (Pre-)candidate: counts votes, yields to a leader of its term. Returns a DropReason for local requests (no leader). */
export function stepCandidate(r: Raft, m: Message): DropReason | undefined {
  const myVoteResp = r.role === Role.PreCandidate ? MessageType.PreVoteResp : MessageType.VoteResp
  switch (m.type) {
    case MessageType.Prop:
    case MessageType.ReadIndex:
    case MessageType.TransferLeader:
      return 'no-leader'
    case MessageType.App:
      r.becomeFollower(m.term, m.from)
      handleAppendEntries(r, m)
      return undefined
    case MessageType.Heartbeat:
      r.becomeFollower(m.term, m.from)
      handleHeartbeat(r, m)
      return undefined
    case MessageType.Snap:
      r.becomeFollower(m.term, m.from)
      handleSnapshot(r, m)
      return undefined
    case myVoteResp: {
      const res = r.poll(m.from, !m.reject)
      if (res === 'won') {
        if (r.role === Role.PreCandidate) r.campaign('election')
        else {
          r.becomeLeader()
          r.bcastAppend()
        }
      } else if (res === 'lost') {
        // A rejection at a higher term already made us a follower in step(); this is same-term.
        r.becomeFollower(r.term, NONE)
      }
      return undefined
    }
  }
  return undefined
}

/** Follower: replicates from the leader and forwards requests to it. Returns a DropReason when no leader is known. */
export function stepFollower(r: Raft, m: Message): DropReason | undefined {
  switch (m.type) {
    case MessageType.Prop: {
      if (r.lead === NONE) return 'no-leader'
      if (r.disableProposalForwarding) return 'forwarding-disabled'
      const f = newMessage(MessageType.Prop, r.id, r.lead, 0)
      f.entries = m.entries
      r.send(f)
      return undefined
    }
    case MessageType.App:
      r.electionElapsed = 0
      r.lead = m.from
      handleAppendEntries(r, m)
      return undefined
    case MessageType.Heartbeat:
      r.electionElapsed = 0
      r.lead = m.from
      handleHeartbeat(r, m)
      return undefined
    case MessageType.Snap:
      r.electionElapsed = 0
      r.lead = m.from
      handleSnapshot(r, m)
      return undefined
    case MessageType.TransferLeader: {
      if (r.lead === NONE) return 'no-leader'
      const f = newMessage(MessageType.TransferLeader, m.from, r.lead, 0)
      r.send(f)
      return undefined
    }
    case MessageType.TimeoutNow:
      // Transfers skip pre-vote: we know the leader wants us to take over.
      r.hup('transfer')
      return undefined
    case MessageType.ReadIndex: {
      if (r.lead === NONE) return 'no-leader'
      const f = newMessage(MessageType.ReadIndex, r.id, r.lead, 0)
      f.context = m.context
      r.send(f)
      return undefined
    }
    case MessageType.ReadIndexResp:
      r.readStates.push({ index: m.index, context: m.context ?? '' })
      return undefined
  }
  return undefined
}

function handleAppendEntries(r: Raft, m: Message): void {
  const resp = newMessage(MessageType.AppResp, r.id, m.from, r.term)
  if (m.index < r.log.committed) {
    // Everything up to our commit is known to match; tell the leader where we are.
    resp.index = r.log.committed
    r.send(resp)
    return
  }
  const lastNew = r.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries)
  if (lastNew >= 0) {
    if (m.context === COMMIT_NOTICE && m.entries.length === 0) return // nothing to tell (message.ts)
    resp.index = lastNew
    r.send(resp)
    return
  }
  // Reject with a hint: the largest index <= m.index whose term is <= m.logTerm, so the leader
  // can skip a whole term of mismatching entries in one round trip.
  const hint = r.log.findConflictByTerm(Math.min(m.index, r.log.lastIndex()), m.logTerm)
  resp.index = m.index
  resp.reject = true
  resp.rejectHint = hint.index
  resp.logTerm = hint.term
  r.send(resp)
}

function handleHeartbeat(r: Raft, m: Message): void {
  r.log.commitTo(Math.min(m.commit, r.log.lastIndex()))
  const resp = newMessage(MessageType.HeartbeatResp, r.id, m.from, r.term)
  resp.context = m.context
  r.send(resp)
}

function handleSnapshot(r: Raft, m: Message): void {
  const s = m.snapshot
  if (!s) return // malformed: ignore
  const resp = newMessage(MessageType.AppResp, r.id, m.from, r.term)
  resp.index = restore(r, s) ? r.log.lastIndex() : r.log.committed
  r.send(resp)
}

/** Installs a snapshot from the leader; false if it is not newer than what we have. */
function restore(r: Raft, s: Snapshot): boolean {
  const idx = s.metadata.index
  if (idx <= r.log.committed) return false
  if (r.role !== Role.Follower) return false
  if (r.log.matchTerm(idx, s.metadata.term)) {
    // We already have the entries: just fast-forward the commit index.
    r.log.commitTo(idx)
    return false
  }
  r.log.restore(s)
  r.setConfig(s.metadata.conf.voters)
  const self = r.prs.get(r.id)
  if (self) self.match = idx
  return true
}
