// Throughput of the consensus core alone: a 3-member in-memory cluster (MemoryStorage, instant
// delivery) measuring committed-and-applied entries per second. `npm run bench:raft`.
//   batched    : many proposals between Readys (one append message per follower per Ready)
//   per-ready  : one proposal per leader Ready, pipelined (no waiting for commit)
//   sequential : propose one, wait until it is applied, then the next (latency-bound)
import { RawNode } from '../server/raft/raw-node.js'
import { MemoryStorage } from '../server/raft/storage.js'
import { EntryType, type Message, type NodeId, Role } from '../server/raft/types.js'
import { decodeConfChange } from '../server/raft/raft.js'
import { Prng } from '../test/support/prng.js'

interface BNode { id: NodeId; node: RawNode; st: MemoryStorage; applied: number }

function cluster(): Map<NodeId, BNode> {
  const ids = ['0000000000000001', '0000000000000002', '0000000000000003']
  const m = new Map<NodeId, BNode>()
  ids.forEach((id, i) => {
    const st = new MemoryStorage()
    m.set(id, { id, st, applied: 0, node: new RawNode({ id, peers: ids, storage: st, rand: new Prng(i), electionTicks: 10, heartbeatTicks: 1, maxInflightMsgs: 256, maxBytesPerMsg: 1 << 20 }) })
  })
  return m
}

/** One pass: every node handles its Ready; then every produced message is delivered. */
function pump(c: Map<NodeId, BNode>): number {
  let moved = 0
  let inbox: Message[] = []
  for (const n of c.values()) {
    while (n.node.hasReady()) {
      const rd = n.node.ready()
      if (rd.snapshot) n.st.applySnapshot(rd.snapshot)
      if (rd.hardState) n.st.setHardState(rd.hardState)
      if (rd.entries.length) n.st.append(rd.entries)
      for (let k = 0; k < rd.messages.length; k++) inbox.push(rd.messages[k]!)
      for (let k = 0; k < rd.committedEntries.length; k++) {
        const e = rd.committedEntries[k]!
        if (e.type === EntryType.ConfChange) n.node.applyConfChange(decodeConfChange(e.data))
        n.applied = e.index
      }
      n.node.advance(rd)
      moved++
    }
  }
  while (inbox.length) {
    const msgs = inbox
    inbox = []
    for (const m of msgs) {
      c.get(m.to)!.node.step(m)
      moved++
    }
    for (const n of c.values()) {
      while (n.node.hasReady()) {
        const rd = n.node.ready()
        if (rd.hardState) n.st.setHardState(rd.hardState)
        if (rd.entries.length) n.st.append(rd.entries)
        for (let k = 0; k < rd.messages.length; k++) inbox.push(rd.messages[k]!)
        for (let k = 0; k < rd.committedEntries.length; k++) n.applied = rd.committedEntries[k]!.index
        n.node.advance(rd)
      }
    }
  }
  return moved
}

function elect(c: Map<NodeId, BNode>): BNode {
  const first = c.values().next().value as BNode
  pump(c) // persist and apply the bootstrap configuration first
  first.node.campaign()
  for (let k = 0; k < 10; k++) pump(c)
  if (first.node.raft.role !== Role.Leader) throw new Error('no leader')
  return first
}

/** Keeps MemoryStorage small, as a server compacting after snapshots would. */
function compact(c: Map<NodeId, BNode>): void {
  for (const n of c.values()) {
    const to = n.applied - 1000
    if (to > n.st.firstIndex() + 10000) {
      n.st.createSnapshot(to, { voters: n.node.raft.voters }, '')
      n.st.compact(to)
    }
  }
}

// Commands are prebuilt so that the bench measures the core, not string building.
const PAYLOADS = Array.from({ length: 1024 }, (_, i) => `{"action":"set","key":"/bench/k${i}","value":"${'v'.repeat(48)}","id":${i}}`)
const payload = (i: number) => PAYLOADS[i & 1023]!

function allApplied(c: Map<NodeId, BNode>, index: number): boolean {
  for (const n of c.values()) if (n.applied < index) return false
  return true
}

function run(name: string, total: number, step: (c: Map<NodeId, BNode>, l: BNode, i: number) => number): void {
  const c = cluster()
  const l = elect(c)
  const start = l.node.raft.log.lastIndex()
  const t0 = performance.now()
  let i = 0
  while (i < total) {
    i += step(c, l, i)
    if (i % 10000 < 1000) compact(c)
  }
  const target = start + total
  for (let k = 0; k < 1000 && !allApplied(c, target); k++) pump(c)
  const ms = performance.now() - t0
  if (!allApplied(c, target)) throw new Error(`${name}: not everything applied`)
  console.log(`${name.padEnd(40)} ${total} entries in ${ms.toFixed(0)} ms  ->  ${Math.round(total / (ms / 1000)).toLocaleString('en-US')} committed entries/s`)
}

const N = Number(process.env.BENCH_ENTRIES ?? 200000)
console.log(`raft core bench: 3 members, in-memory, instant delivery, ~100-byte commands (node ${process.version})`)
// Warm-up so that the JIT settles before measuring.
run('warm-up', 20000, (c, l, i) => { for (let k = 0; k < 100; k++) l.node.propose(payload(i + k)); pump(c); return 100 })
for (const batch of [1000, 100]) {
  run(`batched (${batch} proposals per Ready)`, N, (c, l, i) => {
    for (let k = 0; k < batch; k++) l.node.propose(payload(i + k))
    pump(c)
    return batch
  })
}
run('per-ready (1 proposal per Ready)', N / 4, (c, l, i) => {
  l.node.propose(payload(i))
  pump(c)
  return 1
})
run('sequential (wait for apply each time)', N / 10, (c, l, i) => {
  l.node.propose(payload(i))
  const want = l.node.raft.log.lastIndex()
  while (!allApplied(c, want)) pump(c)
  return 1
})
