// A whole Raft cluster in one deterministic simulation: N RawNodes over durable-only storage, a
// faulty network, crashes/restarts, a seeded workload (writes, ReadIndex reads, conf changes,
// leader transfers, snapshots + compaction) and safety checkers after every step.
// Everything derives from one seed; a failure report carries the replay command.
import { ProposalDroppedError } from '../../server/raft/errors.js'
import { describeMessage, describeReady, shortId } from '../../server/raft/describe.js'
import { decodeConfChange } from '../../server/raft/raft.js'
import { RawNode } from '../../server/raft/raw-node.js'
import { MemoryStorage } from '../../server/raft/storage.js'
import { type Entry, EntryType, type HardState, type Message, MessageType, type NodeId, type Ready, Role, type Snapshot } from '../../server/raft/types.js'
import { Checkers, fnv, Violation } from './checkers.js'
import { FakeClock } from './fake-clock.js'
import { nid } from './network.js'
import { Prng } from '../support/prng.js'
import { NO_FAULTS, SimNetwork, randomIsolate, randomLinkFaults, randomPartition } from './sim-network.js'
import { Trace } from './trace.js'

export interface SimOptions {
  seed: number
  nodes: number
  /** Simulated duration of the workload (+ faults) phase. */
  durationMs: number
  /** Inject network faults, partitions and crashes. */
  faults: boolean
  /** Propose conf changes and leader transfers. */
  reconfig?: boolean
  tickMs?: number
  electionTicks?: number
  /** Print every trace line. */
  verbose?: boolean
  /** Ready writes take 0-3 ms of simulated time while the node keeps stepping (an async driver). */
  asyncPersist?: boolean
  /** Core options (default on, as in production). */
  preVote?: boolean
  checkQuorum?: boolean
  /** Checker for full log matching every this many events. */
  fullCheckEvery?: number
}

/** Durable state of a node: what survived fsync. */
interface Durable {
  hardState: HardState
  snapshot: Snapshot | undefined
  entries: Entry[]
}

interface StateMachine {
  kv: Map<string, number>
  applied: number
  hash: number
}

interface PendingRead {
  key: string
  minIndex: number
  readIndex: number
}

class SimNode {
  durable: Durable = { hardState: { term: 0, vote: '', commit: 0 }, snapshot: undefined, entries: [] }
  latestHardState: HardState = { term: 0, vote: '', commit: 0 }
  storage!: MemoryStorage
  node!: RawNode
  sm: StateMachine = { kv: new Map(), applied: 0, hash: 0 }
  up = false
  /** A Ready's write is in progress (asyncPersist). */
  persisting = false
  removed = false
  incarnation = 0
  snapshotIndex = 0
  snapshotEvery = 50
  proposals = new Map<string, string>()
  reads = new Map<string, PendingRead>()
  lastTerm = 0
  lastCommit = 0
  lastApplied = 0
  constructor(readonly id: NodeId, readonly bootstrapPeers: NodeId[]) {}
}

/** A fingerprint of a Ready's contents (lengths and last indexes of its arrays). */
function readyShape(rd: Ready): string {
  const last = (a: { index: number }[]) => (a.length ? a[a.length - 1]!.index : 0)
  return `e${rd.entries.length}@${last(rd.entries)} c${rd.committedEntries.length}@${last(rd.committedEntries)} m${rd.messages.length} r${rd.readStates.length}`
}

export class SimFailure extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SimFailure'
  }
}

const KEYS = ['a', 'b', 'c', 'd', 'e']

export class SimCluster {
  readonly clock = new FakeClock()
  readonly rand: Prng
  readonly trace: Trace
  readonly checkers = new Checkers()
  readonly net: SimNetwork
  readonly nodes = new Map<NodeId, SimNode>()
  readonly tickMs: number
  readonly electionTicks: number
  private readonly o: SimOptions
  private readonly baseSize: number
  private nextId: number
  private seq = 0
  private events = 0
  private lastConfChangeAt = -Infinity
  dropped = 0
  acked = 0
  readsDone = 0
  leaderChanges = 0
  snapshotsSent = 0
  private wl: Prng
  private faultRand: Prng
  private keepRand: Prng
  private persistRand: Prng
  /** Faults are over (late fault timers must not fire). */
  private healed = false

  constructor(o: SimOptions) {
    this.o = o
    this.rand = new Prng(o.seed)
    this.trace = new Trace(40, o.verbose ?? false)
    this.tickMs = o.tickMs ?? 10
    this.electionTicks = o.electionTicks ?? 10
    this.baseSize = o.nodes
    this.nextId = o.nodes + 1
    this.wl = this.rand.fork('workload')
    this.faultRand = this.rand.fork('faults')
    this.keepRand = this.rand.fork('compaction')
    this.persistRand = this.rand.fork('persist')
    this.net = new SimNetwork(this.clock, this.rand.fork('network'), (m) => this.deliver(m), (m, why) => this.onDrop(m, why))
    const peers = Array.from({ length: o.nodes }, (_, i) => nid(i + 1))
    for (const id of peers) this.addNode(id, peers)
  }

  private log(line: string): void {
    this.trace.log(`t=${this.clock.now()} ${line}`)
  }

  private addNode(id: NodeId, bootstrapPeers: NodeId[]): SimNode {
    const n = new SimNode(id, bootstrapPeers)
    const r = this.rand.fork(`node-${id}`)
    n.snapshotEvery = r.range(20, 80)
    this.nodes.set(id, n)
    this.start(n)
    // Each node ticks on its own phase: real clocks are not aligned.
    this.clock.every(this.tickMs, () => this.guard(() => this.onTick(n)), r.range(1, this.tickMs))
    return n
  }

  /** Builds a RawNode from the node's durable state only (a fresh process). */
  private start(n: SimNode): void {
    n.incarnation++
    const st = new MemoryStorage()
    const d = n.durable
    n.sm = { kv: new Map(), applied: 0, hash: 0 }
    if (d.snapshot) {
      st.applySnapshot(d.snapshot)
      n.sm = this.decodeState(d.snapshot)
      this.checkers.onRestore(n.id, d.snapshot.metadata.index, d.snapshot.metadata.term, n.sm.hash)
    }
    st.setHardState(d.hardState)
    st.append(d.entries)
    n.storage = st
    n.latestHardState = { ...d.hardState }
    const empty = d.entries.length === 0 && !d.snapshot
    n.node = new RawNode({
      id: n.id, peers: empty ? n.bootstrapPeers : [], storage: st,
      rand: this.rand.fork(`raft-${n.id}-${n.incarnation}`),
      electionTicks: this.electionTicks, heartbeatTicks: 1, maxInflightMsgs: 16, maxBytesPerMsg: 4096,
      preVote: this.o.preVote ?? true, checkQuorum: this.o.checkQuorum ?? true,
    })
    n.snapshotIndex = d.snapshot?.metadata.index ?? 0
    n.up = true
    n.persisting = false
    // A Ready whose write was in flight at the crash is lost, including a term change nobody
    // heard about (its messages were never sent): in-memory monotonicity restarts from durable state.
    n.lastTerm = d.hardState.term
    n.lastCommit = 0
    n.lastApplied = 0
    n.proposals.clear()
    n.reads.clear()
    this.log(`${shortId(n.id)} start #${n.incarnation} term=${d.hardState.term} commit=${d.hardState.commit} snap=${n.snapshotIndex} ents=${d.entries.length}`)
    this.processReady(n)
  }

  private crash(n: SimNode): void {
    n.up = false
    n.proposals.clear()
    n.reads.clear()
    this.log(`${shortId(n.id)} CRASH (unsynced commit ${n.latestHardState.commit} -> durable ${n.durable.hardState.commit})`)
  }

  // ---- the driver: what server/node.ts does, synchronously ----

  /**
   * The Ready loop. With asyncPersist, the write of a Ready takes simulated time (like an fsync)
   * and the node keeps stepping messages and ticks meanwhile, as the server's async driver does;
   * a crash before the write completes loses it.
   */
  private processReady(n: SimNode): void {
    if (n.up && n.persisting) {
      // Like the server's driver: requests relayed to the leader need nothing durable, so they
      // leave at once even while this node's Ready is being written.
      for (const m of n.node.takeForwards()) {
        this.log(`${shortId(n.id)} relay ${describeMessage(m)}`)
        this.net.send(m)
      }
    }
    while (n.up && !n.persisting && n.node.hasReady()) {
      const rd = n.node.ready()
      this.log(`${shortId(n.id)} ready ${describeReady(rd)}`)
      if (rd.softState?.role === Role.Leader) {
        const term = n.node.raft.term
        this.checkers.onLeader(n.id, term)
        this.checkers.onLeaderLog(n.id, n.node)
        this.leaderChanges++
      }
      const delay = this.o.asyncPersist ? this.persistRand.intn(4) : 0
      if (delay === 0) {
        this.completeReady(n, rd)
        continue
      }
      n.persisting = true
      const incarnation = n.incarnation
      // The driver starts writing at once: what it writes is what the Ready held *now*. The core
      // must not change a handed-out Ready while the write is in flight.
      const shape = readyShape(rd)
      this.clock.setTimeout(() => this.guard(() => {
        if (!n.up || n.incarnation !== incarnation) return // crashed before the write finished
        if (readyShape(rd) !== shape) throw new Violation('ready-immutable', `${n.id}: Ready changed while being persisted: ${shape} -> ${readyShape(rd)}`)
        n.persisting = false
        this.log(`${shortId(n.id)} persisted`)
        this.completeReady(n, rd)
        this.processReady(n)
      }), delay)
      return
    }
  }

  private completeReady(n: SimNode, rd: Ready): void {
    {
      // 1. persist
      const d = n.durable
      if (rd.snapshot) {
        d.snapshot = rd.snapshot
        d.entries = []
        n.storage.applySnapshot(rd.snapshot)
        n.sm = this.decodeState(rd.snapshot)
        this.checkers.onRestore(n.id, rd.snapshot.metadata.index, rd.snapshot.metadata.term, n.sm.hash)
        n.snapshotIndex = rd.snapshot.metadata.index
      }
      if (rd.hardState) n.latestHardState = rd.hardState
      if (rd.entries.length > 0) {
        const first = rd.entries[0]!.index
        const base = d.snapshot?.metadata.index ?? 0
        const keep = first - base - 1
        if (keep < d.entries.length) d.entries.length = Math.max(0, keep)
        for (const e of rd.entries) d.entries.push(e)
        this.checkers.onPersist(n.id, rd.entries)
      }
      // A commit-only HardState change is written without fsync: a crash may lose it.
      if (rd.mustSync) this.writeHardState(n)
      if (rd.hardState) n.storage.setHardState(rd.hardState)
      n.storage.append(rd.entries)
      // 2. send
      for (const m of rd.messages) {
        this.log(`${shortId(n.id)} send ${describeMessage(m)}`)
        if (m.type === MessageType.Snap) this.snapshotsSent++
        this.net.send(m)
      }
      // 3. apply
      for (const e of rd.committedEntries) this.apply(n, e)
      for (const rs of rd.readStates) {
        const pr = n.reads.get(rs.context)
        if (pr) pr.readIndex = rs.index
      }
      // 4. advance
      n.node.advance(rd)
      if (n.node.raft.role === Role.Leader) this.checkers.onLeaderCommit(n.node)
      this.serveReads(n)
      this.maybeSnapshot(n)
      this.checkMonotonic(n)
    }
  }

  /** Makes the latest HardState durable; the durable term and vote never go back (§5.1). */
  private writeHardState(n: SimNode): void {
    const before = n.durable.hardState
    const hs = n.latestHardState
    this.checkers.monotonic(n.id, 'durable term', before.term, hs.term)
    if (hs.term === before.term && before.vote !== '' && hs.vote !== before.vote) {
      throw new Violation('vote-durability', `${n.id} changed its durable vote in term ${hs.term} from ${before.vote} to ${hs.vote}`)
    }
    n.durable.hardState = { ...hs }
  }

  private apply(n: SimNode, e: Entry): void {
    const sm = n.sm
    if (e.index !== sm.applied + 1) throw new Violation('apply-order', `${n.id} applied ${e.index} after ${sm.applied}`)
    const hash = fnv(fnv(sm.hash, `${e.index}|${e.term}|${e.type}|`), e.data)
    this.checkers.onApply(n.id, e, hash)
    sm.applied = e.index
    sm.hash = hash
    if (e.type === EntryType.ConfChange) {
      const cc = decodeConfChange(e.data)
      const cs = n.node.applyConfChange(cc)
      this.log(`${shortId(n.id)} conf ${cc.type} ${shortId(cc.id)} -> [${cs.voters.map(shortId).join(',')}]`)
      this.onConfApplied(cc.type, cc.id)
    } else if (e.data.startsWith('w|')) {
      const [, reqId, key] = e.data.split('|') as [string, string, string]
      sm.kv.set(key, e.index)
      if (n.proposals.has(reqId)) {
        n.proposals.delete(reqId)
        this.checkers.onAck(key, e.index)
        this.acked++
      }
    }
  }

  private serveReads(n: SimNode): void {
    for (const [ctx, r] of n.reads) {
      if (r.readIndex > 0 && n.sm.applied >= r.readIndex) {
        n.reads.delete(ctx)
        this.checkers.onRead(n.id, ctx, r.key, r.minIndex, n.sm.kv.get(r.key) ?? 0, r.readIndex)
        this.readsDone++
      }
    }
  }

  private maybeSnapshot(n: SimNode): void {
    if (n.sm.applied - n.snapshotIndex < n.snapshotEvery) return
    const idx = n.sm.applied
    const snap = n.storage.createSnapshot(idx, { voters: n.node.raft.voters }, this.encodeState(n.sm))
    // Saving a snapshot syncs the WAL (as etcd's does), so the latest HardState becomes durable too.
    n.durable.snapshot = snap
    this.writeHardState(n)
    // With faults keep few entries so that lagging members need snapshots; healthy clusters keep
    // enough for a follower's normal lag (as etcd's SnapshotCatchUpEntries does).
    const keepEntries = this.o.faults ? this.keepRand.intn(8) : 100
    const compactTo = idx - keepEntries
    if (compactTo > n.storage.firstIndex()) {
      n.storage.compact(compactTo)
    }
    // The durable log keeps entries after the snapshot index (fine to keep a few more in memory).
    const base = n.durable.entries.length > 0 ? n.durable.entries[0]!.index : idx + 1
    if (base <= idx) n.durable.entries = n.durable.entries.slice(idx + 1 - base)
    n.snapshotIndex = idx
    this.log(`${shortId(n.id)} snapshot @${idx} compact ${compactTo}`)
  }

  private encodeState(sm: StateMachine): string {
    return JSON.stringify({ kv: [...sm.kv], applied: sm.applied, hash: sm.hash })
  }

  private decodeState(s: Snapshot): StateMachine {
    const o = JSON.parse(s.data) as { kv: [string, number][]; applied: number; hash: number }
    return { kv: new Map(o.kv), applied: o.applied, hash: o.hash }
  }

  private checkMonotonic(n: SimNode): void {
    const st = n.node.raft
    this.checkers.monotonic(n.id, 'term', n.lastTerm, st.term)
    this.checkers.monotonic(n.id, 'commit', n.lastCommit, st.log.committed)
    this.checkers.monotonic(n.id, 'applied', n.lastApplied, n.sm.applied)
    n.lastTerm = st.term
    n.lastCommit = st.log.committed
    n.lastApplied = n.sm.applied
  }

  // ---- membership ----

  private onConfApplied(type: string, id: NodeId): void {
    if (type === 'add' && !this.nodes.has(id)) {
      this.log(`${shortId(id)} operator starts new member`)
      this.addNode(id, [])
    } else if (type === 'remove') {
      const n = this.nodes.get(id)
      if (n && !n.removed) {
        n.removed = true
        // The operator shuts the removed member down a little later.
        this.clock.setTimeout(() => this.guard(() => {
          if (n.up) this.crash(n)
          this.log(`${shortId(id)} operator stops removed member`)
        }), 200)
      }
    }
  }

  // ---- events ----

  private onTick(n: SimNode): void {
    if (!n.up) return
    n.node.tick()
    this.processReady(n)
  }

  private deliver(m: Message): void {
    this.guard(() => {
      const n = this.nodes.get(m.to)
      if (!n || !n.up) {
        // The transport's snapshot stream fails when the receiver is down.
        if (m.type === MessageType.Snap) this.reportSnapshot(m, false)
        return
      }
      this.log(`${shortId(n.id)} recv ${describeMessage(m)}`)
      n.node.step(m)
      this.processReady(n)
      if (m.type === MessageType.Snap) this.reportSnapshot(m, true)
    })
  }

  private onDrop(m: Message, why: string): void {
    this.guard(() => this.handleDrop(m, why))
  }

  private handleDrop(m: Message, why: string): void {
    if (m.type === MessageType.Snap) this.reportSnapshot(m, false)
    else if (why === 'cut' && m.type === MessageType.App && this.faultRand.chance(0.1)) {
      const s = this.nodes.get(m.from)
      if (s?.up) {
        s.node.reportUnreachable(m.to)
        this.processReady(s)
      }
    }
  }

  private reportSnapshot(m: Message, ok: boolean): void {
    const s = this.nodes.get(m.from)
    if (!s?.up) return
    this.log(`${shortId(s.id)} snapshot to ${shortId(m.to)} ${ok ? 'delivered' : 'failed'}`)
    s.node.reportSnapshot(m.to, ok)
    this.processReady(s)
  }

  /** Runs fn and turns a checker violation into a SimFailure with everything needed to replay. */
  private guard(fn: () => void): void {
    this.events++
    try {
      fn()
      if (this.events % (this.o.fullCheckEvery ?? 500) === 0) this.fullCheck()
    } catch (e) {
      if (e instanceof SimFailure) throw e
      const check = e instanceof Violation ? e.check : `exception ${(e as Error).name}`
      const detail = e instanceof Violation ? e.detail : `${(e as Error).message}\n${(e as Error).stack ?? ''}`
      throw this.failure(check, detail)
    }
  }

  failure(check: string, detail: string): SimFailure {
    return new SimFailure([
      `raft simulation failed: seed=${this.o.seed} time=${this.clock.now()}ms tick=${Math.floor(this.clock.now() / this.tickMs)} check=${check}`,
      `  ${detail}`,
      `  options: ${JSON.stringify(this.o)}`,
      '  last trace lines:',
      ...this.trace.lastLines().map((l) => `    ${l}`),
      `  replay: SEED=${this.o.seed} npm run test:sim   (VERBOSE=1 for the whole trace)`,
    ].join('\n'))
  }

  /** Log Matching across every pair of live members (O(log length)). */
  fullCheck(): void {
    const logs: { id: NodeId; ents: Entry[] }[] = []
    for (const n of this.nodes.values()) if (n.up) logs.push({ id: n.id, ents: n.node.raft.log.allEntries() })
    for (let i = 0; i < logs.length; i++) for (let j = i + 1; j < logs.length; j++) this.checkers.logsMatch(logs[i]!, logs[j]!)
  }

  // ---- workload ----

  private upNodes(): SimNode[] {
    const out: SimNode[] = []
    for (const n of this.nodes.values()) if (n.up && !n.removed) out.push(n)
    return out
  }

  leader(): SimNode | undefined {
    let best: SimNode | undefined
    for (const n of this.nodes.values()) {
      if (n.up && n.node.raft.role === Role.Leader && (!best || n.node.raft.term > best.node.raft.term)) best = n
    }
    return best
  }

  private workloadStep(): void {
    const ups = this.upNodes()
    if (ups.length === 0) return
    const r = this.wl
    const p = r.float()
    const n = r.pick(ups)
    if (p < 0.65) this.write(n, r.pick(KEYS))
    else if (p < 0.95) this.read(n, r.pick(KEYS))
    else if (this.o.reconfig && p < 0.975) this.confChange()
    else if (this.o.reconfig) this.transfer()
  }

  write(n: SimNode, key: string): boolean {
    const reqId = `${++this.seq}`
    try {
      n.node.propose(`w|${reqId}|${key}|${shortId(n.id)}`)
    } catch (e) {
      if (!(e instanceof ProposalDroppedError)) throw e
      this.dropped++
      this.log(`${shortId(n.id)} propose ${reqId} dropped: ${e.reason}`)
      return false
    }
    n.proposals.set(reqId, key)
    this.log(`${shortId(n.id)} propose ${reqId} ${key}`)
    this.processReady(n)
    return true
  }

  private read(n: SimNode, key: string): void {
    const ctx = `r${++this.seq}`
    try {
      n.node.readIndex(ctx)
    } catch (e) {
      if (!(e instanceof ProposalDroppedError)) throw e
      this.log(`${shortId(n.id)} readIndex ${ctx} dropped: ${e.reason}`)
      return
    }
    n.reads.set(ctx, { key, minIndex: this.checkers.ackedIndex.get(key) ?? 0, readIndex: 0 })
    this.log(`${shortId(n.id)} readIndex ${ctx} ${key} (acked ${this.checkers.ackedIndex.get(key) ?? 0})`)
    this.processReady(n)
  }

  private confChange(): void {
    const l = this.leader()
    if (!l || this.clock.now() - this.lastConfChangeAt < 300) return
    const voters = l.node.raft.voters
    const r = this.wl
    let cc: { type: 'add' | 'remove'; id: NodeId }
    if (voters.length <= this.baseSize) cc = { type: 'add', id: nid(this.nextId++) }
    else cc = { type: 'remove', id: r.pick(voters) }
    try {
      l.node.proposeConfChange(cc)
    } catch (e) {
      if (!(e instanceof ProposalDroppedError)) throw e
      this.log(`${shortId(l.id)} conf change dropped: ${e.reason}`)
      if (cc.type === 'add') this.nextId--
      return
    }
    this.lastConfChangeAt = this.clock.now()
    this.log(`${shortId(l.id)} propose conf ${cc.type} ${shortId(cc.id)}`)
    this.processReady(l)
  }

  private transfer(): void {
    const l = this.leader()
    if (!l) return
    const others = l.node.raft.voters.filter((v) => v !== l.id)
    if (others.length === 0) return
    const to = this.wl.pick(others)
    this.log(`${shortId(l.id)} transfer leadership to ${shortId(to)}`)
    try {
      l.node.transferLeader(to)
    } catch (e) {
      if (!(e instanceof ProposalDroppedError)) throw e
    }
    this.processReady(l)
  }

  // ---- faults ----

  private faultStep(): void {
    const r = this.faultRand
    const all = [...this.nodes.values()].filter((n) => !n.removed)
    const ids = all.map((n) => n.id)
    const down = all.filter((n) => !n.up)
    const p = r.float()
    if (p < 0.2) {
      this.log(randomPartition(this.net, r, ids))
    } else if (p < 0.3) {
      this.log(randomIsolate(this.net, r, ids))
    } else if (p < 0.5) {
      this.net.heal()
      this.log('FAULT heal')
    } else if (p < 0.6) {
      const ups = all.filter((n) => n.up)
      if (down.length < Math.floor((all.length - 1) / 2) && ups.length > 0) this.crash(r.pick(ups))
    } else if (p < 0.75) {
      if (down.length > 0) this.start(r.pick(down))
    } else if (p < 0.85) {
      this.log(randomLinkFaults(this.net, r, [3, 10, 30, 80], [0, 0.1, 0.5, 1]))
    } else if (p < 0.92) {
      const a = r.pick(ids)
      const b = r.pick(ids)
      if (a !== b) {
        this.net.oneWay(a, b)
        this.log(`FAULT one-way cut ${shortId(a)}->${shortId(b)}`)
      }
    } else if (p < 0.96) {
      this.swizzle(ids)
    } else {
      const a = r.pick(ids)
      const b = r.pick(ids)
      const ms = r.range(20, 200)
      if (a !== b) {
        this.net.clog(a, b, ms)
        this.log(`FAULT clog ${shortId(a)}->${shortId(b)} +${ms}ms`)
      }
    }
  }

  /**
   * FoundationDB's swizzle: clog the links of a random subset of members one by one, then unclog
   * them in a random order; this produces unusual, slowly changing connectivity.
   */
  private swizzle(ids: NodeId[]): void {
    const r = this.faultRand
    const subset = r.shuffle([...ids]).slice(0, r.range(1, ids.length))
    const ms = r.range(100, 400)
    this.log(`FAULT swizzle [${subset.map(shortId)}] +${ms}ms`)
    let t = 0
    for (const x of subset) {
      t += r.range(5, 50)
      this.clock.setTimeout(() => {
        if (this.healed) return
        for (const y of ids) if (y !== x) { this.net.clog(x, y, ms); this.net.clog(y, x, ms) }
      }, t)
    }
    for (const x of r.shuffle([...subset])) {
      t += r.range(20, 150)
      this.clock.setTimeout(() => { for (const y of ids) if (y !== x) { this.net.unclog(x, y); this.net.unclog(y, x) } }, t)
    }
  }

  // ---- running ----

  /**
   * Runs the workload (and faults) for durationMs, then heals everything and checks liveness:
   * a leader emerges and a fresh write commits on every live member within a bounded time.
   */
  run(): void {
    const stopWl = this.clock.every(3, () => this.guard(() => this.workloadStep()))
    let stopFaults = () => {}
    if (this.o.faults) {
      const schedule = () => {
        this.clock.setTimeout(() => this.guard(() => {
          if (this.clock.now() >= this.o.durationMs) return
          this.faultStep()
          schedule()
        }), this.faultRand.range(30, 400))
      }
      schedule()
      stopFaults = () => {}
    }
    this.clock.advance(this.o.durationMs)
    stopWl()
    stopFaults()
    this.heal()
    this.checkLiveness()
    this.guard(() => this.fullCheck())
  }

  /** Ends all faults: network healed and reliable, every crashed (non-removed) member restarted. */
  heal(): void {
    this.healed = true
    this.net.heal()
    this.net.faults = { ...NO_FAULTS }
    for (const n of this.nodes.values()) if (!n.up && !n.removed) this.guard(() => this.start(n))
    this.log('HEAL all')
  }

  /** After heal: leader within a few election timeouts and a write commits everywhere. */
  checkLiveness(): void {
    const electionMs = this.electionTicks * this.tickMs
    const deadline = this.clock.now() + 30 * electionMs
    let marker: { n: SimNode; index: number } | undefined
    let proposedAt = -Infinity
    while (this.clock.now() < deadline) {
      this.clock.advance(this.tickMs)
      const l = this.leader()
      if (!l) continue
      if (!marker || this.clock.now() - proposedAt > 10 * electionMs) {
        proposedAt = this.clock.now()
        this.guard(() => { if (this.write(l, 'live')) marker = { n: l, index: l.node.raft.log.lastIndex() } })
        continue
      }
      // Done when every live voter applied past the marker and the cluster agrees on one leader.
      const voters = l.node.raft.voters
      const all = voters.every((id) => {
        const n = this.nodes.get(id)
        return n !== undefined && n.up && n.sm.applied >= marker!.index
      })
      if (all && l.node.raft.log.zeroTerm(marker.index) > 0 && this.checkers.ackedIndex.get('live') !== undefined) return
    }
    throw this.failure('liveness', `no progress within ${30 * electionMs}ms after heal: ${this.describeNodes()}`)
  }

  describeNodes(): string {
    return [...this.nodes.values()].map((n) => n.up
      ? `${shortId(n.id)}:${n.node.raft.role}/t${n.node.raft.term} c${n.node.raft.log.committed} a${n.sm.applied} li${n.node.raft.log.lastIndex()}${n.removed ? ' removed' : ''}`
      : `${shortId(n.id)}:down${n.removed ? ' removed' : ''}`).join(' ')
  }

  /** Runs for ms with no faults and no workload (e.g. to let an election finish). */
  runIdle(ms: number): void {
    this.clock.advance(ms)
  }

  get stats() {
    return {
      seed: this.o.seed, events: this.events, applied: this.checkers.maxApplied, acked: this.acked,
      reads: this.readsDone, dropped: this.dropped, msgs: this.net.sent, leaders: this.leaderChanges,
      snapshotsSent: this.snapshotsSent, traceHash: this.trace.hash(),
    }
  }

  /** Proposals still waiting for acknowledgement on live members. */
  pendingProposals(): number {
    let k = 0
    for (const n of this.nodes.values()) if (n.up) k += n.proposals.size
    return k
  }
}
