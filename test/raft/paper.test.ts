// The Raft paper (Ongaro & Ousterhout, "In Search of an Understandable Consensus Algorithm") and
// thesis, claim by claim, against the pure core: each test is named for the rule it checks.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ProposalDroppedError } from '../../server/raft/errors.js'
import { type Message, MessageType, NONE, Role } from '../../server/raft/types.js'
import { Network, nid, nodeWithLog, TestNode } from '../harness/network.js'

/** Messages of `type` among msgs. */
function ofType(msgs: Message[], type: MessageType): Message[] {
  return msgs.filter((m) => m.type === type)
}

/** Ticks a node until it has messages or n ticks passed; returns what it sent. */
function tickUntilSend(tn: TestNode, n: number): Message[] {
  for (let k = 0; k < n; k++) {
    tn.node.tick()
    const msgs = tn.drain()
    if (msgs.length > 0) return msgs
  }
  return []
}

function dataOf(tn: TestNode): string[] {
  return tn.applied.filter((e) => e.type === 0 && e.data !== '').map((e) => e.data)
}

// ---------------------------------------------------------------- §5.2 leader election
const election = suite('§5.2 leader election')

election('§5.2 a follower that hears nothing for an election timeout becomes a candidate, votes for itself, asks everyone for votes', () => {
  const n = nodeWithLog(1, [1, 2, 3], [], { preVote: false })
  const msgs = tickUntilSend(n, 20)
  assert.is(n.raft.role, Role.Candidate)
  assert.is(n.raft.term, 1)
  assert.is(n.raft.vote, nid(1))
  const votes = ofType(msgs, MessageType.Vote)
  assert.equal(votes.map((m) => m.to).sort(), [nid(2), nid(3)])
  assert.ok(votes.every((m) => m.term === 1))
})

election('§5.2 election timeouts are randomized in [electionTicks, 2*electionTicks)', () => {
  const seen = new Set<number>()
  for (let id = 1; id <= 40; id++) {
    const n = nodeWithLog(id, [id, id + 100], [], { preVote: false })
    let ticks = 0
    while (n.raft.role === Role.Follower) {
      n.node.tick()
      ticks++
    }
    assert.ok(ticks >= 10 && ticks < 20, `timeout ${ticks}`)
    seen.add(ticks)
  }
  assert.ok(seen.size > 3, 'timeouts should vary between nodes')
})

election('§5.2 a candidate that receives votes from a majority becomes leader and asserts itself with appends', () => {
  const net = new Network(3, { preVote: false })
  net.campaign(1)
  assert.is(net.get(1).raft.role, Role.Leader)
  assert.is(net.get(2).raft.lead, nid(1))
  assert.is(net.get(3).raft.lead, nid(1))
})

election('§5.2 a candidate that is rejected by a majority returns to follower', () => {
  const n = nodeWithLog(1, [1, 2, 3], [], { preVote: false })
  n.node.campaign()
  n.drain()
  for (const from of [2, 3]) {
    n.node.step({ type: MessageType.VoteResp, from: nid(from), to: nid(1), term: 1, logTerm: 0, index: 0, entries: [], commit: 0, reject: true, rejectHint: 0 })
  }
  assert.is(n.raft.role, Role.Follower)
  assert.is(n.raft.term, 1)
})

election('§5.2 each server votes for at most one candidate per term, first come first served', () => {
  const n = nodeWithLog(1, [1, 2, 3], [], { preVote: false, checkQuorum: false })
  const vote = (from: number) => {
    n.node.step({ type: MessageType.Vote, from: nid(from), to: nid(1), term: 1, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0 })
    return ofType(n.drain(), MessageType.VoteResp)[0]!
  }
  assert.is(vote(2).reject, false)
  assert.is(vote(3).reject, true)
  assert.is(vote(2).reject, false, 'a repeated request from the same candidate is granted again')
  assert.is(n.raft.vote, nid(2))
})

election('§5.2 a candidate that receives an AppendEntries from a leader of its term becomes follower', () => {
  const n = nodeWithLog(1, [1, 2, 3], [], { preVote: false })
  n.node.campaign()
  n.drain()
  n.node.step({ type: MessageType.App, from: nid(2), to: nid(1), term: 1, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0 })
  assert.is(n.raft.role, Role.Follower)
  assert.is(n.raft.lead, nid(2))
})

election('§5.1 a message with a higher term makes a leader step down to follower in that term', () => {
  const net = new Network(3, { preVote: false, checkQuorum: false })
  net.campaign(1)
  const l = net.get(1)
  l.node.step({ type: MessageType.App, from: nid(2), to: nid(1), term: 5, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0 })
  assert.is(l.raft.role, Role.Follower)
  assert.is(l.raft.term, 5)
})

election('§5.1 requests with a stale term are rejected (the sender learns the newer term)', () => {
  const net = new Network(3, { preVote: false })
  net.campaign(1)
  const f = net.get(2)
  const term = f.raft.term
  f.node.step({ type: MessageType.App, from: nid(3), to: nid(2), term: term - 1, logTerm: 0, index: 0, entries: [{ term: term - 1, index: 99, type: 0, data: 'x' }], commit: 0, reject: false, rejectHint: 0 })
  const out = f.drain()
  assert.is(f.raft.lead, nid(1))
  assert.is(out.length, 1)
  assert.is(out[0]!.type, MessageType.AppResp)
  assert.is(out[0]!.term, term)
})

election('§5.2 split votes resolve: with randomized timeouts a 5-member cluster elects exactly one leader', () => {
  const net = new Network(5, { preVote: false })
  for (let k = 0; k < 100 && !net.leader(); k++) net.tickAll()
  const leaders = [...net.nodes.values()].filter((n) => n.raft.role === Role.Leader)
  assert.is(leaders.length, 1)
})

election.run()

// ---------------------------------------------------------------- §5.3 log replication
const replication = suite('§5.3 log replication')

replication('§5.3 the leader appends a proposal, replicates it, commits once a majority stores it, and followers apply it', () => {
  const net = new Network(3)
  net.campaign(1)
  net.propose(1, 'x=1')
  for (const i of [1, 2, 3]) assert.equal(dataOf(net.get(i)), ['x=1'])
  assert.is(net.get(1).raft.log.committed, net.get(1).raft.log.lastIndex())
})

replication('§5.3 an entry stored on a minority only is not committed', () => {
  const net = new Network(3)
  net.campaign(1)
  const before = net.get(1).raft.log.committed
  net.isolate(2)
  net.isolate(3)
  net.propose(1, 'lonely')
  assert.is(net.get(1).raft.log.committed, before)
  net.recover()
  net.tick(1) // heartbeat -> followers ask for the missing entry
  assert.equal(dataOf(net.get(2)), ['lonely'])
})

replication('§5.3 a follower rejects AppendEntries whose prevLogIndex/prevLogTerm do not match its log', () => {
  const f = nodeWithLog(2, [1, 2, 3], [1, 1, 2], { term: 3 })
  f.node.step({ type: MessageType.App, from: nid(1), to: nid(2), term: 3, logTerm: 3, index: 3, entries: [{ term: 3, index: 4, type: 0, data: 'y' }], commit: 0, reject: false, rejectHint: 0 })
  const r = ofType(f.drain(), MessageType.AppResp)[0]!
  assert.is(r.reject, true)
  assert.is(r.index, 3)
  assert.is(f.raft.log.lastIndex(), 3)
})

replication('§5.3 a follower deletes conflicting entries and everything after them, then appends the leader\'s', () => {
  const f = nodeWithLog(2, [1, 2, 3], [1, 1, 2, 2, 2], { term: 3 })
  f.node.step({ type: MessageType.App, from: nid(1), to: nid(2), term: 3, logTerm: 1, index: 2, entries: [{ term: 3, index: 3, type: 0, data: 'n3' }], commit: 0, reject: false, rejectHint: 0 })
  const r = ofType(f.drain(), MessageType.AppResp)[0]!
  assert.is(r.reject, false)
  assert.equal(f.raft.log.allEntries().map((e) => e.term), [1, 1, 3])
  assert.equal(f.storage.lastIndex(), 3, 'the durable log was truncated too')
})

replication('§5.3 the leader backs up on rejection; fast backtracking skips a whole conflicting term per round trip', () => {
  // Leader log: terms 1 1 1 4 4 5 5 6 6 6; follower has many entries of term 2 and 3 (figure 7 (f)).
  const leader = nodeWithLog(1, [1, 2], [1, 1, 1, 4, 4, 5, 5, 6, 6, 6], { term: 7 })
  const follower = nodeWithLog(2, [1, 2], [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3], { term: 7 })
  const net = new Network([leader, follower])
  net.campaign(1)
  const rejects = net.delivered.filter((m) => m.type === MessageType.AppResp && m.reject)
  assert.ok(rejects.length <= 3, `${rejects.length} rejections: one per conflicting term at most`)
  assert.equal(follower.raft.log.allEntries().map((e) => e.term), leader.raft.log.allEntries().map((e) => e.term))
})

replication('§5.3 pipelining: in replicate state the leader sends appends without waiting, up to the inflight window', () => {
  const net = new Network(2, { maxInflightMsgs: 3 })
  net.campaign(1)
  const l = net.get(1)
  net.isolate(2) // acknowledgements stop coming
  const sent: Message[] = []
  for (let k = 0; k < 6; k++) {
    l.node.propose(`p${k}`)
    sent.push(...l.drain())
  }
  const apps = ofType(sent, MessageType.App).filter((m) => m.entries.length > 0)
  assert.is(apps.length, 3, 'three in flight, then paused')
  assert.is(l.raft.prs.get(nid(2))!.state, 'replicate')
  net.recover()
})

replication('commit notices: a follower whose appends are in flight learns the commit without a second answer; one that lost them rejects', () => {
  const setup = () => {
    const net = new Network(3)
    net.campaign(1)
    const [l, f2, f3] = [net.get(1), net.get(2), net.get(3)]
    l.node.propose('x')
    const apps = ofType(l.drain(), MessageType.App)
    const index = l.raft.log.lastIndex()
    return { l, f2, f3, apps, index }
  }
  // Both followers get the append; only f2's answer reaches the leader, which commits and tells both.
  {
    const { l, f2, f3, apps, index } = setup()
    for (const m of apps) (m.to === f2.id ? f2 : f3).node.step(m)
    const ack2 = ofType(f2.drain(), MessageType.AppResp)
    const ack3 = ofType(f3.drain(), MessageType.AppResp)
    assert.is(ack3.length, 1, 'f3 answers the append itself')
    for (const m of ack2) l.node.step(m)
    assert.is(l.raft.log.committed, index)
    const notices = ofType(l.drain(), MessageType.App).filter((m) => m.entries.length === 0)
    assert.equal(notices.map((m) => m.to).sort(), [f2.id, f3.id])
    for (const m of notices) (m.to === f2.id ? f2 : f3).node.step(m)
    assert.is(f3.raft.log.committed, index, 'f3 commits from the notice')
    assert.is(ofType(f3.drain(), MessageType.AppResp).length, 0, 'nothing to repeat: its answer to the append is on its way')
    assert.is(ofType(f2.drain(), MessageType.AppResp).length, 0)
    for (const m of ack3) l.node.step(m)
    assert.is(l.raft.prs.get(f3.id)!.match, index)
  }
  // f3 never got the append: the notice does not fit its log, it rejects, the leader resends.
  {
    const { l, f2, f3, apps, index } = setup()
    for (const m of apps) if (m.to === f2.id) f2.node.step(m)
    for (const m of ofType(f2.drain(), MessageType.AppResp)) l.node.step(m)
    const notice = ofType(l.drain(), MessageType.App).find((m) => m.to === f3.id)!
    assert.is(notice.entries.length, 0)
    f3.node.step(notice)
    const rej = ofType(f3.drain(), MessageType.AppResp)
    assert.is(rej.length, 1)
    assert.is(rej[0]!.reject, true)
    for (const m of rej) l.node.step(m)
    const resend = ofType(l.drain(), MessageType.App).filter((m) => m.to === f3.id)
    assert.ok(resend.some((m) => m.entries.some((e) => e.index === index)), 'the lost entry is sent again')
  }
})

replication('commit notices: a follower whose answer to an append was lost is asked again after a heartbeat, and answers', () => {
  const net = new Network(3)
  net.campaign(1)
  const [l, f2, f3] = [net.get(1), net.get(2), net.get(3)]
  l.node.propose('x')
  const index = l.raft.log.lastIndex()
  for (const m of ofType(l.drain(), MessageType.App)) (m.to === f2.id ? f2 : f3).node.step(m)
  for (const m of ofType(f2.drain(), MessageType.AppResp)) l.node.step(m)
  f3.drain() // f3 persisted the entry; its answer is lost
  for (const m of ofType(l.drain(), MessageType.App)) if (m.to === f3.id) f3.node.step(m) // the commit notice
  assert.is(ofType(f3.drain(), MessageType.AppResp).length, 0)
  assert.ok(l.raft.prs.get(f3.id)!.match < index, 'the leader does not know f3 has the entry')
  // A heartbeat round: f3's answer shows it is behind as far as the leader knows; the append that
  // follows is a question, not a notice.
  l.node.tick()
  for (const m of ofType(l.drain(), MessageType.Heartbeat)) if (m.to === f3.id) f3.node.step(m)
  for (const m of f3.drain()) l.node.step(m)
  const ask = ofType(l.drain(), MessageType.App).filter((m) => m.to === f3.id)
  assert.is(ask.length, 1)
  f3.node.step(ask[0]!)
  const answers = ofType(f3.drain(), MessageType.AppResp)
  assert.is(answers.length, 1)
  l.node.step(answers[0]!)
  assert.is(l.raft.prs.get(f3.id)!.match, index)
})

replication('commit notices: a notice is left out when the same batch has a later append to that follower (it carries the commit)', () => {
  const net = new Network(3)
  net.campaign(1)
  const [l, f2, f3] = [net.get(1), net.get(2), net.get(3)]
  l.node.propose('a')
  const apps = ofType(l.drain(), MessageType.App)
  for (const m of apps) (m.to === f2.id ? f2 : f3).node.step(m)
  const acks = [...ofType(f2.drain(), MessageType.AppResp), ...ofType(f3.drain(), MessageType.AppResp)]
  const committedA = l.raft.log.lastIndex()
  // One turn: both acks commit 'a', and a new proposal goes out.
  for (const m of acks) l.node.step(m)
  l.node.propose('b')
  const sent = ofType(l.drain(), MessageType.App)
  for (const to of [f2.id, f3.id]) {
    const mine = sent.filter((m) => m.to === to)
    assert.is(mine.length, 1, 'one append per follower, no separate notice')
    assert.is(mine[0]!.entries.length, 1)
    assert.ok(mine[0]!.commit >= committedA, 'the append carries the commit')
  }
  // Without a later append the notice is sent.
  for (const m of sent) (m.to === f2.id ? f2 : f3).node.step(m)
  for (const m of ofType(f2.drain(), MessageType.AppResp)) l.node.step(m)
  const notices = ofType(l.drain(), MessageType.App)
  assert.equal(notices.map((m) => [m.to, m.entries.length]).sort(), [[f2.id, 0], [f3.id, 0]])
  for (const m of notices) (m.to === f2.id ? f2 : f3).node.step(m)
  f2.drain()
  f3.drain()
  assert.equal(dataOf(f3), ['a', 'b'])
})

replication('batching: many proposals before one Ready go to each follower in one append message', () => {
  const net = new Network(3)
  net.campaign(1)
  const l = net.get(1)
  for (let k = 0; k < 100; k++) l.node.propose(`b${k}`)
  const apps = ofType(l.drain(), MessageType.App)
  assert.is(apps.length, 2)
  assert.ok(apps.every((m) => m.entries.length === 100))
  net.send(apps)
  net.stabilize()
  assert.is(dataOf(net.get(3)).length, 100)
})

replication('batching respects maxBytesPerMsg: a large backlog is split into several messages', () => {
  const net = new Network(2, { maxBytesPerMsg: 1000 })
  net.campaign(1)
  const l = net.get(1)
  for (let k = 0; k < 100; k++) l.node.propose('x'.repeat(76)) // 100 bytes each with overhead
  const apps = ofType(l.drain(), MessageType.App)
  assert.ok(apps.length >= 10, `${apps.length} messages`)
  assert.ok(apps.every((m) => m.entries.length <= 10))
  net.send(apps)
  net.stabilize()
  assert.is(dataOf(net.get(2)).length, 100)
})

replication('§5.3 the leader never overwrites or deletes its own entries (append-only)', () => {
  const net = new Network(3)
  net.campaign(1)
  net.isolate(1)
  net.get(1).node.propose('stale-but-mine')
  net.get(1).drain()
  const before = net.get(1).raft.log.allEntries().map((e) => `${e.term}/${e.index}`)
  net.get(1).node.step({ type: MessageType.AppResp, from: nid(2), to: nid(1), term: net.get(1).raft.term, logTerm: 0, index: 1, entries: [], commit: 0, reject: true, rejectHint: 0 })
  assert.equal(net.get(1).raft.log.allEntries().map((e) => `${e.term}/${e.index}`), before)
  net.recover()
})

replication.run()

// ---------------------------------------------------------------- §5.4 safety
const safety = suite('§5.4 safety')

safety('§5.4.1 a voter denies its vote to a candidate whose log is less up to date', () => {
  const v = nodeWithLog(1, [1, 2, 3], [1, 2, 2], { term: 2 })
  const ask = (logTerm: number, index: number) => {
    v.node.step({ type: MessageType.Vote, from: nid(2), to: nid(1), term: 3, logTerm, index, entries: [], commit: 0, reject: false, rejectHint: 0 })
    return ofType(v.drain(), MessageType.VoteResp)[0]!.reject
  }
  assert.is(ask(1, 10), true, 'older last term loses even with a longer log')
  assert.is(ask(2, 2), true, 'same last term, shorter log')
  assert.is(ask(2, 3), false, 'same last term, same length')
})

safety('§5.4.2 figure 8: a leader never commits an entry of an earlier term by counting replicas', () => {
  // S1 leads term 2 and replicates entry 2/2 to S2 only, then crashes; S5 (term 3) appends 3/2 and
  // crashes; S1 returns as leader of term 4 and brings 2/2 to a majority: it must not commit it.
  const s1 = nodeWithLog(1, [1, 2, 3, 4, 5], [1, 2], { term: 4, commit: 1 })
  const s2 = nodeWithLog(2, [1, 2, 3, 4, 5], [1, 2], { term: 4, commit: 1 })
  const s3 = nodeWithLog(3, [1, 2, 3, 4, 5], [1], { term: 4, commit: 1 })
  const s4 = nodeWithLog(4, [1, 2, 3, 4, 5], [1], { term: 4, commit: 1 })
  const s5 = nodeWithLog(5, [1, 2, 3, 4, 5], [1, 3], { term: 4, commit: 1 })
  const net = new Network([s1, s2, s3, s4, s5])
  net.isolate(5)
  // Stop S1's own term-5 entry from replicating so only 2/2 reaches S3.
  s1.raft.becomeFollower(4, NONE)
  s1.raft.becomeCandidate()
  s1.raft.becomeLeader()
  s1.drain() // do not deliver: leader of term 5 with 2/2 and 5/3 (noop) in its log
  // Replicate only index 2 (term 2) to S3 by hand.
  s3.node.step({ type: MessageType.App, from: nid(1), to: nid(3), term: s1.raft.term, logTerm: 1, index: 1, entries: [s1.raft.log.allEntries()[1]!], commit: 1, reject: false, rejectHint: 0 })
  const ack = ofType(s3.drain(), MessageType.AppResp)[0]!
  s1.node.step({ type: MessageType.AppResp, from: nid(2), to: nid(1), term: s1.raft.term, logTerm: 0, index: 2, entries: [], commit: 0, reject: false, rejectHint: 0 })
  s1.node.step(ack)
  assert.is(s1.raft.log.committed, 1, '2/2 is on S1, S2, S3 but must not be committed in term 5 by counting')
  // Once the term-5 noop reaches a majority, both commit together.
  net.stabilize()
  assert.is(s1.raft.log.committed, 3)
  assert.equal(s1.raft.log.allEntries().map((e) => e.term), [1, 2, s1.raft.term])
})

safety('§5.4.2 a new leader commits earlier-term entries by committing the empty entry it appends on election', () => {
  const a = nodeWithLog(1, [1, 2, 3], [1, 1, 2], { term: 2, commit: 1 })
  const b = nodeWithLog(2, [1, 2, 3], [1, 1, 2], { term: 2, commit: 1 })
  const c = nodeWithLog(3, [1, 2, 3], [1, 1], { term: 2, commit: 1 })
  const net = new Network([a, b, c])
  net.campaign(1)
  const ents = a.raft.log.allEntries()
  assert.is(ents[ents.length - 1]!.data, '', 'the new leader appended an empty entry')
  assert.is(a.raft.log.committed, 4)
  assert.is(c.raft.log.committed, 4)
})

safety('§5.4.3 a leader elected after a commit holds every committed entry (leader completeness)', () => {
  const net = new Network(5)
  net.campaign(1)
  net.propose(1, 'committed-1')
  net.isolate(1)
  for (let k = 0; k < 60 && !(net.leader() && net.leader()!.id !== nid(1)); k++) {
    for (const i of [2, 3, 4, 5]) net.get(i).node.tick()
    net.stabilize()
  }
  const l = [2, 3, 4, 5].map((i) => net.get(i)).find((n) => n.raft.role === Role.Leader)!
  assert.ok(l, 'a new leader')
  assert.ok(l.raft.log.allEntries().some((e) => e.data === 'committed-1'))
  net.recover()
})

safety.run()

// ---------------------------------------------------------------- §6 membership
const membership = suite('§6 cluster membership changes')

membership('§6 adding a member: it catches up from the leader and then counts in the quorum', () => {
  const net = new Network(3)
  net.campaign(1)
  net.propose(1, 'before')
  net.get(1).node.proposeConfChange({ type: 'add', id: nid(4) })
  const n4 = nodeWithLog(4, [], [])
  net.add(n4)
  net.stabilize()
  assert.equal(net.get(1).raft.voters.sort(), [nid(1), nid(2), nid(3), nid(4)])
  net.tick(1)
  assert.ok(dataOf(n4).includes('before'), 'the new member got the log')
  assert.equal(n4.raft.voters.sort(), [nid(1), nid(2), nid(3), nid(4)], 'it learned the configuration from the log')
  // With 4 voters, a majority is 3: two isolated followers stop commits.
  net.isolate(3)
  net.isolate(4)
  const c = net.get(1).raft.log.committed
  net.propose(1, 'needs-3')
  assert.is(net.get(1).raft.log.committed, c)
  net.recover()
})

membership('§6 only one configuration change may be pending at a time', () => {
  const net = new Network(3)
  net.campaign(1)
  net.isolate(2)
  net.isolate(3)
  const l = net.get(1)
  l.node.proposeConfChange({ type: 'add', id: nid(4) })
  l.drain()
  assert.throws(() => l.node.proposeConfChange({ type: 'add', id: nid(5) }), (e: unknown) => e instanceof ProposalDroppedError && e.reason === 'conf-change-pending')
  net.recover()
  net.tick(1)
  assert.is(l.raft.voters.length, 4)
  l.node.proposeConfChange({ type: 'remove', id: nid(4) })
  net.stabilize()
  assert.is(l.raft.voters.length, 3)
})

membership('§6 removing a member shrinks the quorum', () => {
  const net = new Network(3)
  net.campaign(1)
  net.get(1).node.proposeConfChange({ type: 'remove', id: nid(3) })
  net.stabilize()
  assert.equal(net.get(1).raft.voters.sort(), [nid(1), nid(2)])
  net.isolate(3)
  net.propose(1, 'two-of-two')
  assert.ok(dataOf(net.get(2)).includes('two-of-two'))
})

membership('§6 a leader removed from the configuration steps down and another member takes over', () => {
  const net = new Network(3)
  net.campaign(1)
  net.get(1).node.proposeConfChange({ type: 'remove', id: nid(1) })
  net.stabilize()
  assert.is.not(net.get(1).raft.role, Role.Leader)
  assert.not.ok(net.get(1).raft.promotable())
  for (let k = 0; k < 40 && !net.leader(); k++) net.tickAll()
  const l = net.leader()
  assert.ok(l && l.id !== nid(1), 'a remaining member leads')
  net.propose(Number.parseInt(l!.id, 16), 'after-removal')
  assert.ok(dataOf(net.get(2)).includes('after-removal'))
})

membership('§6 a candidate that learns of its own removal stops campaigning and cannot win', () => {
  const n = nodeWithLog(1, [1, 2, 3], [], { preVote: false })
  n.node.campaign()
  n.drain()
  assert.is(n.raft.role, Role.Candidate)
  n.node.applyConfChange({ type: 'remove', id: nid(1) })
  assert.is(n.raft.role, Role.Follower)
  for (const from of [2, 3]) {
    n.node.step({ type: MessageType.VoteResp, from: nid(from), to: nid(1), term: 1, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0 })
  }
  assert.is(n.raft.role, Role.Follower)
})

membership.run()

// ---------------------------------------------------------------- pre-vote and check-quorum (thesis §9.6, §6.2)
const disruption = suite('pre-vote and check-quorum')

disruption('pre-vote: a partitioned member does not increase its term, so rejoining does not depose the leader', () => {
  const net = new Network(3)
  net.campaign(1)
  const term = net.get(1).raft.term
  net.isolate(3)
  for (let k = 0; k < 50; k++) net.tick(3)
  assert.is(net.get(3).raft.term, term, 'pre-votes failed, term unchanged')
  assert.is(net.get(3).raft.role, Role.PreCandidate)
  net.recover()
  net.tickAll(3)
  assert.is(net.get(1).raft.role, Role.Leader)
  assert.is(net.get(1).raft.term, term)
  assert.is(net.get(3).raft.lead, nid(1))
})

disruption('check-quorum: a leader that hears from no majority for an election timeout steps down', () => {
  const net = new Network(3)
  net.campaign(1)
  net.isolate(1)
  for (let k = 0; k < 25; k++) net.tick(1)
  assert.is(net.get(1).raft.role, Role.Follower)
  net.recover()
})

disruption('check-quorum lease: followers with a live leader ignore vote requests of a higher term', () => {
  const net = new Network(3, { preVote: false })
  net.campaign(1)
  const f = net.get(2)
  const term = f.raft.term
  f.node.step({ type: MessageType.Vote, from: nid(3), to: nid(2), term: term + 5, logTerm: 99, index: 99, entries: [], commit: 0, reject: false, rejectHint: 0 })
  assert.is(f.drain().length, 0, 'ignored')
  assert.is(f.raft.term, term)
  assert.is(f.raft.lead, nid(1))
})

disruption('without pre-vote, a rejoining member with a higher term makes the stale leader step down via its responses', () => {
  const net = new Network(3, { preVote: false, checkQuorum: false })
  net.campaign(1)
  net.isolate(3)
  for (let k = 0; k < 30; k++) net.tick(3)
  assert.ok(net.get(3).raft.term > net.get(1).raft.term)
  net.recover()
  net.tickAll(30)
  assert.ok(net.leader())
  assert.is(new Set([...net.nodes.values()].map((n) => n.raft.term)).size, 1, 'everyone converged on one term')
})

disruption.run()

// ---------------------------------------------------------------- ReadIndex (thesis §6.4)
const readIndex = suite('ReadIndex')

readIndex('ReadIndex on the leader: answered after a heartbeat round confirms leadership, at the commit index', () => {
  const net = new Network(3)
  net.campaign(1)
  net.propose(1, 'w')
  const l = net.get(1)
  l.node.readIndex('ctx-1')
  const hbs = ofType(l.drain(), MessageType.Heartbeat)
  assert.is(hbs.length, 2)
  assert.ok(hbs.every((m) => m.context !== undefined && m.context.endsWith('ctx-1')))
  assert.is(l.readStates.length, 0, 'not before the quorum answered')
  net.send(hbs)
  assert.equal(l.readStates, [{ index: l.raft.log.committed, context: 'ctx-1' }])
})

readIndex('ReadIndex on a follower is forwarded to the leader and the ReadState comes back', () => {
  const net = new Network(3)
  net.campaign(1)
  net.propose(1, 'w')
  net.get(2).node.readIndex('f-ctx')
  net.stabilize()
  assert.equal(net.get(2).readStates, [{ index: net.get(1).raft.log.committed, context: 'f-ctx' }])
})

readIndex('ReadIndex: two members using the same context string are both answered', () => {
  const net = new Network(3)
  net.campaign(1)
  net.get(2).node.readIndex('1')
  net.get(3).node.readIndex('1')
  net.stabilize()
  assert.is(net.get(2).readStates.length, 1)
  assert.is(net.get(3).readStates.length, 1)
})

readIndex('ReadIndex: a new leader holds requests until an entry of its own term is committed', () => {
  const net = new Network(3)
  net.campaign(1)
  net.isolate(2)
  net.isolate(3)
  const l = net.get(2)
  // Make 2 leader but keep its no-op from committing: it can't reach anyone.
  l.raft.becomeFollower(l.raft.term + 1, NONE)
  l.raft.becomeCandidate()
  l.raft.becomeLeader()
  l.drain()
  l.node.readIndex('early')
  const out = l.drain()
  assert.is(ofType(out, MessageType.Heartbeat).length, 0, 'no read round yet')
  assert.is(l.readStates.length, 0)
  net.recover()
  net.isolate(1)
  l.raft.bcastAppend()
  net.stabilize()
  net.tick(2)
  assert.is(l.readStates.length, 1, 'released once the no-op committed')
  assert.is(l.readStates[0]!.index, l.raft.log.committed)
})

readIndex('ReadIndex: an isolated leader cannot answer (no stale reads)', () => {
  const net = new Network(3)
  net.campaign(1)
  net.isolate(1)
  net.get(1).node.readIndex('lonely')
  net.tick(1, 5)
  assert.is(net.get(1).readStates.length, 0)
  net.recover()
})

readIndex('ReadIndex with no known leader throws ProposalDroppedError', () => {
  const n = nodeWithLog(1, [1, 2, 3], [])
  assert.throws(() => n.node.readIndex('x'), (e: unknown) => e instanceof ProposalDroppedError && e.reason === 'no-leader')
})

readIndex('ReadIndex in a single-member cluster is answered at once', () => {
  const net = new Network(1)
  net.campaign(1)
  net.get(1).node.readIndex('solo')
  net.stabilize()
  assert.equal(net.get(1).readStates, [{ index: net.get(1).raft.log.committed, context: 'solo' }])
})

readIndex.run()

// ---------------------------------------------------------------- leadership transfer (thesis §3.10)
const transfer = suite('leadership transfer')

transfer('transfer to an up-to-date member: TimeoutNow, it campaigns at once and wins', () => {
  const net = new Network(3)
  net.campaign(1)
  net.propose(1, 'x')
  net.get(1).node.transferLeader(nid(3))
  net.stabilize()
  assert.is(net.get(3).raft.role, Role.Leader)
  assert.is(net.get(1).raft.lead, nid(3))
  assert.ok(net.delivered.some((m) => m.type === MessageType.TimeoutNow && m.to === nid(3)))
})

transfer('transfer to a lagging member catches it up first', () => {
  const net = new Network(3)
  net.campaign(1)
  net.isolate(3)
  for (let k = 0; k < 5; k++) net.propose(1, `p${k}`)
  net.recover()
  net.get(1).node.transferLeader(nid(3))
  net.stabilize()
  assert.is(net.get(3).raft.role, Role.Leader)
  assert.ok(dataOf(net.get(3)).includes('p4'))
})

transfer('during a transfer proposals are dropped; a transfer that does not finish within an election timeout is aborted', () => {
  const net = new Network(3)
  net.campaign(1)
  net.isolate(3)
  const l = net.get(1)
  l.node.transferLeader(nid(3))
  l.drain()
  assert.throws(() => l.node.propose('x'), (e: unknown) => e instanceof ProposalDroppedError && e.reason === 'transferring')
  assert.is(l.raft.leadTransferee, nid(3))
  for (let k = 0; k < 10; k++) net.tick(1)
  assert.is(l.raft.leadTransferee, NONE)
  assert.is(l.raft.role, Role.Leader)
  l.node.propose('after-abort')
  net.recover()
})

transfer('a follower forwards a transfer request to the leader', () => {
  const net = new Network(3)
  net.campaign(1)
  net.get(2).node.transferLeader(nid(2))
  net.stabilize()
  assert.is(net.get(2).raft.role, Role.Leader)
})

transfer.run()

// ---------------------------------------------------------------- proposals and snapshots
const misc = suite('proposals, snapshots, restart')

misc('a proposal on a follower is forwarded to the leader and commits', () => {
  const net = new Network(3)
  net.campaign(1)
  net.propose(3, 'from-follower')
  for (const i of [1, 2, 3]) assert.equal(dataOf(net.get(i)), ['from-follower'])
})

misc('a freshly bootstrapped single member can campaign at once and leads after its first Ready', () => {
  const n = new TestNode(nid(1), { peers: [nid(1)] }, 1)
  n.node.campaign()
  assert.is(n.raft.role, Role.Leader)
  n.drain()
  n.node.propose('solo')
  n.drain()
  assert.equal(dataOf(n), ['solo'])
})

misc('with forwarding disabled a follower drops proposals with a typed reason', () => {
  const net = new Network(3, { disableProposalForwarding: true })
  net.campaign(1)
  assert.throws(() => net.get(2).node.propose('x'), (e: unknown) => e instanceof ProposalDroppedError && e.reason === 'forwarding-disabled')
})

misc('an \'update\' conf change keeps the voters; the ConfState is returned to the caller', () => {
  const net = new Network(3)
  net.campaign(1)
  const cs = net.get(1).node.applyConfChange({ type: 'update', id: nid(2), context: '{"name":"b"}' })
  assert.equal(cs.voters.sort(), [nid(1), nid(2), nid(3)])
})

misc('reportUnreachable moves a replicating follower back to probing', () => {
  const net = new Network(3)
  net.campaign(1)
  net.propose(1, 'x')
  const l = net.get(1)
  assert.is(l.raft.prs.get(nid(2))!.state, 'replicate')
  l.node.reportUnreachable(nid(2))
  assert.is(l.raft.prs.get(nid(2))!.state, 'probe')
  net.propose(1, 'y')
  assert.ok(dataOf(net.get(2)).includes('y'))
})

misc('takeForwards: a follower relays proposals and ReadIndex requests at once, keeping everything else for the Ready', () => {
  const net = new Network(3)
  net.campaign(1)
  const f = net.get(2)
  f.node.propose('relayed')
  f.node.readIndex('rr')
  f.node.step({ type: MessageType.Heartbeat, from: nid(1), to: nid(2), term: f.raft.term, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0 })
  const fwd = f.node.takeForwards()
  assert.equal(fwd.map((m) => m.type), [MessageType.Prop, MessageType.ReadIndex])
  assert.ok(fwd.every((m) => m.term === 0 && m.to === nid(1)))
  const rest = f.drain()
  assert.equal(rest.map((m) => m.type), [MessageType.HeartbeatResp])
  net.send(fwd)
  net.stabilize()
  assert.ok(dataOf(net.get(1)).includes('relayed'))
  assert.is(f.readStates.length, 1)
  assert.equal(net.get(1).node.takeForwards(), [], 'a leader relays nothing')
})

misc('with no leader a proposal fails with ProposalDroppedError (retryable)', () => {
  const n = nodeWithLog(1, [1, 2, 3], [])
  let err: unknown
  try {
    n.node.propose('x')
  } catch (e) {
    err = e
  }
  assert.instance(err, ProposalDroppedError)
  assert.is((err as ProposalDroppedError).reason, 'no-leader')
  assert.is((err as ProposalDroppedError).retryable, true)
})

misc('a follower behind the leader\'s compacted log receives a snapshot, then catches up by appends', () => {
  const net = new Network(3)
  net.campaign(1)
  net.isolate(3)
  for (let k = 0; k < 20; k++) net.propose(1, `s${k}`)
  for (const i of [1, 2]) {
    const tn = net.get(i)
    const applied = tn.raft.log.applied
    tn.storage.createSnapshot(applied, { voters: tn.raft.voters }, `state@${applied}`)
    tn.storage.compact(applied)
  }
  net.recover()
  net.tick(1)
  const snaps = net.delivered.filter((m) => m.type === MessageType.Snap)
  assert.is(snaps.length, 1)
  const f = net.get(3)
  assert.is(f.storage.snapshot().data, `state@${snaps[0]!.snapshot!.metadata.index}`)
  // The follower's reply to the snapshot moved it back to replicating.
  assert.is(net.get(1).raft.prs.get(nid(3))!.state, 'replicate')
  net.get(1).node.reportSnapshot(nid(3), true) // late SnapStatus: ignored
  net.propose(1, 'after-snap')
  assert.ok(dataOf(f).includes('after-snap'))
  assert.is(f.raft.log.committed, net.get(1).raft.log.committed)
})

misc('a failed snapshot send returns the follower to probing', () => {
  const net = new Network(3)
  net.campaign(1)
  net.isolate(3)
  for (let k = 0; k < 5; k++) net.propose(1, `s${k}`)
  const l = net.get(1)
  l.storage.createSnapshot(l.raft.log.applied, { voters: l.raft.voters }, 'snap')
  l.storage.compact(l.raft.log.applied)
  l.node.reportUnreachable(nid(3)) // back to probing from match+1, which is compacted
  l.raft.bcastHeartbeat()
  l.node.step({ type: MessageType.HeartbeatResp, from: nid(3), to: nid(1), term: l.raft.term, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0 })
  assert.is(l.raft.prs.get(nid(3))!.state, 'snapshot')
  l.node.reportSnapshot(nid(3), false)
  assert.is(l.raft.prs.get(nid(3))!.state, 'probe')
  net.recover()
  net.tick(1)
  assert.is(net.get(3).raft.log.committed, l.raft.log.committed)
})

misc('restart from durable state: term, vote and log survive; committed entries are handed out again', () => {
  const net = new Network(3)
  net.campaign(1)
  net.propose(1, 'durable')
  const old = net.get(2)
  const restarted = new TestNode(old.id, { storage: old.storage }, 99)
  assert.is(restarted.raft.term, old.raft.term)
  assert.is(restarted.raft.vote, old.raft.vote)
  assert.is(restarted.raft.log.lastIndex(), old.raft.log.lastIndex())
  restarted.drain()
  assert.ok(dataOf(restarted).includes('durable'), 'replayed for the state machine')
  assert.equal(restarted.raft.voters.sort(), [nid(1), nid(2), nid(3)], 'conf changes replayed')
})

misc.run()
