// The leader's step function: proposals (batched), append responses and commitment, heartbeat
// responses, ReadIndex (thesis §6.4), snapshot status, unreachable peers and leadership transfer.
// Part of the pure core: no I/O; output goes to r.msgs / r.readStates.
import type { DropReason } from './errors.js'
import { newMessage } from './message.js'
import type { Progress } from './progress.js'
import { majority } from './quorum.js'
import type { Raft } from './raft.js'
import { type Entry, EntryType, type Message, MessageType, NONE, type NodeId } from './types.js'

/** Leader: handles one message (after the term checks in Raft.step). Returns a DropReason for a refused local request. */
export function stepLeader(r: Raft, m: Message): DropReason | undefined {
  switch (m.type) {
    case MessageType.Beat:
      r.bcastHeartbeat()
      return undefined
    case MessageType.Prop:
      return handleProposal(r, m)
    case MessageType.ReadIndex:
      if (r.voters.length === 1 && r.voters[0] === r.id) {
        responseToReadIndexReq(r, m, r.log.committed)
      } else if (!r.committedEntryInCurrentTerm()) {
        // Thesis §6.4: the commit index is only known to be current once an entry of this term
        // is committed; hold the request until then.
        r.pendingReadIndexMessages.push(m)
      } else {
        sendReadIndexHeartbeats(r, m)
      }
      return undefined
  }

  const pr = r.prs.get(m.from)
  if (!pr) return undefined
  switch (m.type) {
    case MessageType.AppResp:
      handleAppendResponse(r, m, pr)
      break
    case MessageType.HeartbeatResp: {
      pr.recentActive = true
      pr.msgAppFlowPaused = false
      // Appends may have been lost with a full window; let one more through so that a
      // rejection (or an ack) restarts the flow.
      if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne()
      if (pr.match < r.log.lastIndex()) r.sendAppend(m.from)
      if (m.context === undefined) break
      const acks = r.readOnly.recvAck(m.from, m.context)
      if (!acks || !hasQuorum(r, acks)) break
      for (const rs of r.readOnly.advance(m.context)) responseToReadIndexReq(r, rs.req, rs.index)
      break
    }
    case MessageType.SnapStatus:
      if (pr.state !== 'snapshot') break
      if (m.reject) pr.pendingSnapshot = 0
      pr.becomeProbe()
      // Wait for a heartbeat response (or the append reply to the snapshot) before probing again.
      pr.msgAppFlowPaused = true
      break
    case MessageType.Unreachable:
      if (pr.state === 'replicate') pr.becomeProbe()
      break
    case MessageType.TransferLeader: {
      const transferee = m.from
      if (r.leadTransferee !== NONE) {
        if (r.leadTransferee === transferee) break
        r.abortLeaderTransfer()
      }
      if (transferee === r.id) break
      r.electionElapsed = 0 // the transfer must finish within one election timeout
      r.leadTransferee = transferee
      if (pr.match === r.log.lastIndex()) sendTimeoutNow(r, transferee)
      else r.sendAppend(transferee)
      break
    }
  }
  return undefined
}

function handleProposal(r: Raft, m: Message): DropReason | undefined {
  if (m.entries.length === 0) return undefined // nothing to do (never produced by RawNode)
  if (!r.prs.has(r.id)) return 'not-member'
  if (r.leadTransferee !== NONE) return 'transferring'
  const local = m.from === r.id || m.from === NONE
  // Entries from the network may be shared (even duplicated): never mutate them, copy.
  const ents: Entry[] = local ? m.entries : new Array(m.entries.length)
  for (let k = 0; k < m.entries.length; k++) {
    let e = m.entries[k]!
    if (e.type === EntryType.ConfChange) {
      if (r.pendingConfIndex > r.log.applied) {
        if (local) return 'conf-change-pending'
        // Forwarded: keep the slot (others in the batch are fine) but neutralize the change.
        e = { term: 0, index: 0, type: EntryType.Normal, data: '' }
      } else {
        r.pendingConfIndex = r.log.lastIndex() + k + 1
      }
    }
    ents[k] = local ? e : { term: 0, index: 0, type: e.type, data: e.data }
  }
  r.appendEntry(ents)
  // Batching: followers get the new entries on the next flush (RawNode.ready), in as few messages as fit.
  r.needsBcast = true
  return undefined
}

function handleAppendResponse(r: Raft, m: Message, pr: Progress): void {
  pr.recentActive = true
  if (m.reject) {
    let nextProbeIdx = m.rejectHint
    if (m.logTerm > 0) {
      // Skip every entry of terms the follower cannot have (fast backtracking).
      nextProbeIdx = r.log.findConflictByTerm(m.rejectHint, m.logTerm).index
    }
    if (pr.maybeDecrTo(m.index, nextProbeIdx)) {
      if (pr.state === 'replicate') pr.becomeProbe()
      r.sendAppend(m.from)
    }
    return
  }
  const oldPaused = pr.isPaused()
  if (!pr.maybeUpdate(m.index)) return
  if (pr.state === 'probe') pr.becomeReplicate()
  else if (pr.state === 'snapshot' && pr.match + 1 >= r.log.firstIndex()) {
    pr.becomeProbe()
    pr.becomeReplicate()
  } else if (pr.state === 'replicate') pr.inflights.freeLE(m.index)

  if (r.maybeCommit()) {
    releasePendingReadIndexMessages(r)
    r.bcastAppend()
  } else if (oldPaused) {
    r.sendAppend(m.from)
  }
  while (r.maybeSendAppend(m.from, false)) { /* fill the window */ }
  if (m.from === r.leadTransferee && pr.match === r.log.lastIndex()) sendTimeoutNow(r, m.from)
}

function sendTimeoutNow(r: Raft, to: NodeId): void {
  r.send(newMessage(MessageType.TimeoutNow, r.id, to, r.term))
}

function hasQuorum(r: Raft, acks: ReadonlySet<NodeId>): boolean {
  let n = 0
  for (const id of r.voters) if (acks.has(id)) n++
  return n >= majority(r.voters.length)
}

function sendReadIndexHeartbeats(r: Raft, m: Message): void {
  const ctx = r.readOnly.addRequest(r.log.committed, m)
  // The leader's own ack; in a one-voter config this alone is a quorum.
  const acks = r.readOnly.recvAck(r.id, ctx)
  if (acks && hasQuorum(r, acks)) {
    for (const rs of r.readOnly.advance(ctx)) responseToReadIndexReq(r, rs.req, rs.index)
    return
  }
  r.bcastHeartbeatWithCtx(ctx)
}

function releasePendingReadIndexMessages(r: Raft): void {
  if (r.pendingReadIndexMessages.length === 0 || !r.committedEntryInCurrentTerm()) return
  const msgs = r.pendingReadIndexMessages
  r.pendingReadIndexMessages = []
  for (const m of msgs) sendReadIndexHeartbeats(r, m)
}

function responseToReadIndexReq(r: Raft, req: Message, readIndex: number): void {
  if (req.from === NONE || req.from === r.id) {
    r.readStates.push({ index: readIndex, context: req.context ?? '' })
    return
  }
  const resp = newMessage(MessageType.ReadIndexResp, r.id, req.from, r.term)
  resp.index = readIndex
  resp.context = req.context
  r.send(resp)
}
