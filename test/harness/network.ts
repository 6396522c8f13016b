// A synchronous in-memory network for unit tests (in the spirit of etcd-io/raft's raft_test.go):
// delivers messages to a fixed point, with cut links, isolated nodes and drop filters.
// Each node is a RawNode over MemoryStorage; Ready batches are persisted and applied instantly.
import { MemoryStorage } from '../../server/raft/storage.js'
import { RawNode, type RaftConfig } from '../../server/raft/raw-node.js'
import { decodeConfChange } from '../../server/raft/raft.js'
import { type Entry, EntryType, type Message, type MessageType, type NodeId, type ReadState } from '../../server/raft/types.js'
import { Prng } from '../support/prng.js'

/** "0000000000000001"-style ids for tests. */
export function nid(n: number): NodeId {
  return n.toString(16).padStart(16, '0')
}

export interface TestNodeOptions extends Partial<Omit<RaftConfig, 'id' | 'storage'>> {
  storage?: MemoryStorage
}

export class TestNode {
  readonly storage: MemoryStorage
  readonly node: RawNode
  applied: Entry[] = []
  readStates: ReadState[] = []

  constructor(readonly id: NodeId, opts: TestNodeOptions, seed: number) {
    this.storage = opts.storage ?? new MemoryStorage()
    this.node = new RawNode({
      electionTicks: 10, heartbeatTicks: 1, rand: new Prng(seed),
      ...opts, id, storage: this.storage,
    })
  }

  get raft() {
    return this.node.raft
  }

  /** Persists and applies one Ready; returns its messages. */
  drain(): Message[] {
    const out: Message[] = []
    while (this.node.hasReady()) {
      const rd = this.node.ready()
      if (rd.snapshot) this.storage.applySnapshot(rd.snapshot)
      if (rd.hardState) this.storage.setHardState(rd.hardState)
      this.storage.append(rd.entries)
      for (const e of rd.committedEntries) {
        this.applied.push(e)
        if (e.type === EntryType.ConfChange) this.node.applyConfChange(decodeConfChange(e.data))
      }
      this.readStates.push(...rd.readStates)
      out.push(...rd.messages)
      this.node.advance(rd)
    }
    return out
  }
}

/**
 * A node whose storage already holds a log with the given entry terms (index 1..terms.length) and
 * the given voters, as if restarted; not bootstrapped.
 */
export function nodeWithLog(id: number, voters: number[], terms: number[], opts: TestNodeOptions & { term?: number; vote?: number; commit?: number } = {}): TestNode {
  const st = new MemoryStorage()
  st.applySnapshot({ metadata: { index: 0, term: 0, conf: { voters: voters.map(nid) } }, data: '' })
  st.append(terms.map((t, i) => ({ term: t, index: i + 1, type: EntryType.Normal, data: `e${i + 1}` })))
  const term = opts.term ?? (terms.length ? terms[terms.length - 1]! : 0)
  st.setHardState({ term, vote: opts.vote ? nid(opts.vote) : '', commit: opts.commit ?? 0 })
  const { term: _t, vote: _v, commit: _c, ...rest } = opts
  return new TestNode(nid(id), { ...rest, storage: st }, id)
}

export class Network {
  readonly nodes = new Map<NodeId, TestNode>()
  private cuts = new Set<string>()
  private isolated = new Set<NodeId>()
  /** Message types dropped everywhere. */
  readonly ignored = new Set<MessageType>()
  /** Every delivered message, for assertions. */
  delivered: Message[] = []

  /** Creates n nodes "1".."n" bootstrapped with each other as peers (or wraps the given nodes). */
  constructor(n: number | TestNode[], opts: TestNodeOptions = {}) {
    if (Array.isArray(n)) {
      for (const tn of n) this.nodes.set(tn.id, tn)
    } else {
      const peers = Array.from({ length: n }, (_, i) => nid(i + 1))
      peers.forEach((id, i) => this.nodes.set(id, new TestNode(id, { peers, ...opts, storage: undefined }, i + 1)))
    }
    this.stabilize()
  }

  get(i: number | NodeId): TestNode {
    const id = typeof i === 'number' ? nid(i) : i
    return this.nodes.get(id)!
  }

  add(node: TestNode): void {
    this.nodes.set(node.id, node)
  }

  cut(a: number, b: number): void {
    this.cuts.add(`${nid(a)}|${nid(b)}`)
    this.cuts.add(`${nid(b)}|${nid(a)}`)
  }

  isolate(a: number): void {
    this.isolated.add(nid(a))
  }

  recover(): void {
    this.cuts.clear()
    this.isolated.clear()
    this.ignored.clear()
  }

  private blocked(m: Message): boolean {
    return this.cuts.has(`${m.from}|${m.to}`) || this.isolated.has(m.from) || this.isolated.has(m.to) || this.ignored.has(m.type)
  }

  /** Delivers messages (and everything they cause) until the network is quiet. */
  send(msgs: Message[]): void {
    let queue = msgs
    for (let rounds = 0; queue.length > 0; rounds++) {
      if (rounds > 10000) throw new Error('network did not quiesce')
      const next: Message[] = []
      for (const m of queue) {
        if (this.blocked(m)) continue
        const n = this.nodes.get(m.to)
        if (!n) continue
        this.delivered.push(m)
        n.node.step(m)
        next.push(...n.drain())
      }
      queue = next
    }
  }

  /** Drains every node's Ready and delivers until quiet. */
  stabilize(): void {
    for (;;) {
      const msgs: Message[] = []
      for (const n of this.nodes.values()) msgs.push(...n.drain())
      if (msgs.length === 0) return
      this.send(msgs)
    }
  }

  campaign(i: number): void {
    this.get(i).node.campaign()
    this.stabilize()
  }

  tick(i: number, times = 1): void {
    for (let k = 0; k < times; k++) this.get(i).node.tick()
    this.stabilize()
  }

  tickAll(times = 1): void {
    for (let k = 0; k < times; k++) {
      for (const n of this.nodes.values()) n.node.tick()
      this.stabilize()
    }
  }

  propose(i: number, data: string): void {
    this.get(i).node.propose(data)
    this.stabilize()
  }

  leader(): TestNode | undefined {
    for (const n of this.nodes.values()) if (n.raft.role === 'leader') return n
    return undefined
  }
}
