// A seeded simulation of whole members as they run in production: each member is the production
// Ready loop (server/cluster/raft-driver.ts) over the production state machine (the v2 store),
// with a fake clock, the lossy simulated network and a fake durable log whose writes take
// simulated time and are lost on a crash unless synced. Clients submit writes, quorum reads and
// watch; checkers look at what clients see:
//  - every acknowledged write is applied on every member, at the same index, in the same order,
//    and survives crashes (nothing ever applies another entry at its index);
//  - quorum reads served by the driver are linearizable (never older than a write acknowledged
//    before the read began);
//  - watch events reach watchers in index order;
//  - a restored snapshot holds exactly the state at its index.
// The driver's loop is async (it awaits the durable log), so after every simulated event the
// simulation lets pending promise continuations run (a real event-loop turn) before the next
// event, as Node runs microtasks before the next timer or I/O callback.
import { RaftDriver, type DriverClock, type DurableLog } from '../../server/cluster/raft-driver.js'
import { StateMachine, type Payload } from '../../server/cluster/state-machine.js'
import { describeMessage, shortId } from '../../server/raft/describe.js'
import { type ConfChange, type Entry, type HardState, type Message, MessageType, type NodeId, Role, type Snapshot } from '../../server/raft/types.js'
import type { BootState, PersistBatch } from '../../server/wal/storage.js'
import type { StoreEvent, Watcher } from '../../server/store/index.js'
import { StoreError } from '../../server/store/index.js'
import { Violation } from './checkers.js'
import { FakeClock } from './fake-clock.js'
import { nid } from './network.js'
import { Prng } from '../support/prng.js'
import { NO_FAULTS, SimNetwork, randomIsolate, randomLinkFaults, randomPartition } from './sim-network.js'
import { Trace } from './trace.js'

export interface DriverSimOptions {
  seed: number
  nodes: number
  /** Simulated duration of the workload (+ faults) phase. */
  durationMs: number
  faults: boolean
  /** Upper bound of a WAL write's simulated duration (ms); 0 makes every write finish at once. */
  maxPersistMs: number
  /** Applied entries between a member's own snapshots. */
  snapshotCount: number
  /** Chance that a member (re)starts with a store watcher registered (apply-first vs broadcast-first). */
  watchChance: number
  heartbeatMs?: number
  electionMs?: number
  verbose?: boolean
}

export class DriverSimFailure extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'DriverSimFailure'
  }
}

/** What a member's disk holds: `written` reached the OS, `synced` survived fsync. */
interface DiskState {
  hardState: HardState | undefined
  snapshot: Snapshot | undefined
  /** Entries after the snapshot's index, contiguous. */
  entries: Entry[]
}

function cloneDisk(d: DiskState): DiskState {
  return { hardState: d.hardState, snapshot: d.snapshot, entries: d.entries.slice() }
}

/** A member's disk across restarts. */
class SimDisk {
  written: DiskState = { hardState: undefined, snapshot: undefined, entries: [] }
  synced: DiskState = cloneDisk(this.written)
  /** Never written yet: the member bootstraps. */
  fresh = true

  sync(): void {
    this.synced = cloneDisk(this.written)
  }

  /** Power loss: what was written but not synced is gone. */
  crash(): void {
    this.written = cloneDisk(this.synced)
  }

  appendEntries(ents: readonly Entry[]): void {
    if (ents.length === 0) return
    const w = this.written
    const base = w.snapshot?.metadata.index ?? 0
    const keep = ents[0]!.index - base - 1
    if (keep < w.entries.length) w.entries.length = Math.max(0, keep)
    for (const e of ents) w.entries.push(e)
  }

  installSnapshot(snap: Snapshot): void {
    const w = this.written
    if (w.snapshot && w.snapshot.metadata.index >= snap.metadata.index) return
    w.snapshot = snap
    const idx = snap.metadata.index
    const k = w.entries.findIndex((e) => e.index > idx)
    w.entries = k < 0 ? [] : w.entries.slice(k)
    // Entries after it must continue the log at idx + 1 (a leader's snapshot resets the log).
    if (w.entries.length > 0 && w.entries[0]!.index !== idx + 1) w.entries = []
  }
}

/**
 * The fake durable log handed to the driver: a write takes simulated time (0..maxPersistMs), and
 * resolves only if the member did not crash meanwhile. Like the real WAL, records of a write
 * without mustSync (only the commit index moved) are not synced, and our own snapshot is written
 * beside the loop and syncs what was written before it.
 */
class FakeDurableLog implements DurableLog {
  readonly boot: BootState
  private snapshotChain: Promise<void> = Promise.resolve()
  /** A persist() / saveSnapshot() is in flight (for the coverage counters). */
  persisting = false
  savingSnapshot = false

  constructor(private readonly disk: SimDisk, private readonly m: SimMember, private readonly sim: DriverSim) {
    const d = disk.synced
    this.boot = disk.fresh
      ? { existing: false, metadata: { nodeId: m.id, clusterId: '1' } as BootState['metadata'], entries: [] }
      : { existing: true, metadata: { nodeId: m.id, clusterId: '1' } as BootState['metadata'], hardState: d.hardState, snapshot: d.snapshot, entries: d.entries.slice() }
    disk.fresh = false
  }

  persist(b: PersistBatch): Promise<void> {
    const inc = this.m.incarnation
    const delay = this.sim.persistDelay()
    this.sim.onPersist(this.m, this.savingSnapshot)
    this.persisting = true
    return new Promise((resolve) => {
      this.sim.at(delay, () => {
        if (!this.m.up || this.m.incarnation !== inc) return // crashed: never resolves
        this.persisting = false
        if (b.snapshot) this.disk.installSnapshot(b.snapshot)
        if (b.hardState) this.disk.written.hardState = b.hardState
        this.disk.appendEntries(b.entries)
        if (b.mustSync || b.snapshot) this.disk.sync()
        if (this.sim.verbose) this.sim.trace(`${shortId(this.m.id)} persisted ${b.entries.length} entries${b.mustSync ? ' (synced)' : ''}`)
        resolve()
      })
    })
  }

  saveSnapshot(snap: Snapshot): Promise<void> {
    const inc = this.m.incarnation
    this.savingSnapshot = true
    const run = this.snapshotChain.then(() => new Promise<void>((resolve) => {
      this.sim.at(this.sim.persistDelay() + 1, () => {
        if (!this.m.up || this.m.incarnation !== inc) return
        this.savingSnapshot = false
        this.disk.installSnapshot(snap)
        this.disk.sync()
        this.sim.trace(`${shortId(this.m.id)} saved own snapshot @${snap.metadata.index}`)
        resolve()
      })
    }))
    this.snapshotChain = run
    return run
  }

  close(): Promise<void> {
    return this.snapshotChain
  }
}

/** The production state machine, reporting every entry it applies and every restore. */
class ObservedStateMachine extends StateMachine {
  constructor(private readonly onEntry: (e: Entry) => void, private readonly onRestored: (index: number) => void) {
    super()
  }

  override applyNormal(e: Entry): ReturnType<StateMachine['applyNormal']> {
    const r = super.applyNormal(e)
    this.onEntry(e)
    return r
  }

  override applyConfChange(e: Entry, cc: ConfChange): void {
    super.applyConfChange(e, cc)
    this.onEntry(e)
  }

  override restore(data: string, index: number, term: number): void {
    super.restore(data, index, term)
    this.onRestored(index)
  }
}

class SimMember {
  up = false
  incarnation = 0
  driver!: RaftDriver
  sm!: ObservedStateMachine
  readonly disk = new SimDisk()
  /** Last index applied by this incarnation (restores move it). */
  lastApplied = 0
  watcher: Watcher | undefined
  log!: FakeDurableLog
  constructor(readonly id: NodeId) {}
}

const KEYS = ['/k/a', '/k/b', '/k/c', '/k/d']

export class DriverSim {
  readonly clock = new FakeClock()
  readonly net: SimNetwork
  readonly members = new Map<NodeId, SimMember>()
  private readonly o: DriverSimOptions
  private readonly log: Trace
  private readonly wl: Prng
  private readonly faultRand: Prng
  private readonly persistRand: Prng
  private readonly memberRand: Prng
  private readonly heartbeatMs: number
  private readonly electionMs: number
  private failure: Violation | undefined
  private healed = false
  private seq = 0
  events = 0

  // ---- checker state ----
  /** index -> "term:type:data" of the entry first applied there anywhere (the committed log). */
  private readonly canon: (string | undefined)[] = []
  /** write value -> Raft index it was applied at. */
  private readonly valueIndex = new Map<string, number>()
  /** key -> [index, value] of every write, in index order (from canon). */
  private readonly history = new Map<string, { index: number; value: string }[]>()
  /** Raft index -> value of every acknowledged write. */
  private readonly ackedAt = new Map<number, string>()
  /** key -> highest Raft index of an acknowledged write. */
  private readonly ackedIndex = new Map<string, number>()
  /** How often the orderings the driver chooses between actually ran. */
  readonly coverage = {
    /** Writes of a leader's Ready with store watchers registered (broadcast first) and without (answer first). */
    leaderWithWatchers: 0, leaderWithoutWatchers: 0,
    /** A follower relayed proposals while its own write was in flight. */
    relayWhilePersisting: 0,
    /** A Ready was written while our own snapshot was being saved beside the loop. */
    persistBesideSnapshot: 0,
  }
  acked = 0
  reads = 0
  watchEvents = 0
  restores = 0
  maxApplied = 0

  constructor(o: DriverSimOptions) {
    this.o = o
    const root = new Prng(o.seed)
    this.log = new Trace(60, o.verbose ?? false)
    this.wl = root.fork('workload')
    this.faultRand = root.fork('faults')
    this.persistRand = root.fork('persist')
    this.memberRand = root.fork('members')
    this.heartbeatMs = o.heartbeatMs ?? 10
    this.electionMs = o.electionMs ?? 100
    this.net = new SimNetwork(this.clock, root.fork('network'), (m) => this.deliver(m), (m) => this.onDrop(m))
    // The transport never sends a proposal twice (a duplicated proposal is a duplicated write);
    // every other message may arrive twice.
    this.net.duplicable = (m) => m.type !== MessageType.Prop
    const ids = Array.from({ length: o.nodes }, (_, i) => nid(i + 1))
    for (const id of ids) this.members.set(id, new SimMember(id))
    for (const m of this.members.values()) this.start(m)
  }

  trace(line: string): void {
    this.log.log(`t=${this.clock.now()} ${line}`)
  }

  /** Runs fn after ms of simulated time; a checker violation inside is kept for the run loop. */
  at(ms: number, fn: () => void): void {
    this.clock.setTimeout(() => this.guard(fn), ms)
  }

  onPersist(m: SimMember, snapshotInFlight: boolean): void {
    if (snapshotInFlight) this.coverage.persistBesideSnapshot++
    if (m.driver.raw.role() === Role.Leader) {
      if (m.sm.store.watcherCount > 0) this.coverage.leaderWithWatchers++
      else this.coverage.leaderWithoutWatchers++
    }
  }

  get verbose(): boolean {
    return this.o.verbose === true
  }

  persistDelay(): number {
    return this.o.maxPersistMs > 0 ? this.persistRand.intn(this.o.maxPersistMs + 1) : 0
  }

  private guard(fn: () => void): void {
    this.events++
    try {
      fn()
    } catch (e) {
      this.fail(e instanceof Violation ? e : new Violation(`exception ${(e as Error).name}`, `${(e as Error).message}\n${(e as Error).stack ?? ''}`))
    }
  }

  private check(fn: () => void): void {
    try {
      fn()
    } catch (e) {
      if (!(e instanceof Violation)) throw e
      this.fail(e)
    }
  }

  private fail(v: Violation): void {
    if (!this.failure) this.failure = v
  }

  // ---- members ----

  private clockFor(m: SimMember): DriverClock {
    const inc = m.incarnation
    const alive = (): boolean => m.up && m.incarnation === inc
    return {
      now: () => this.clock.now(),
      soon: (fn) => void this.clock.setTimeout(() => { if (alive()) this.guard(fn) }, 0),
      every: (ms, fn) => this.clock.every(ms, () => { if (alive()) this.guard(fn) }, 1 + this.memberRand.intn(ms)),
    }
  }

  private start(m: SimMember): void {
    m.incarnation++
    m.up = true
    m.lastApplied = 0
    // Violations found inside the driver's loop are recorded, not thrown (the loop would take
    // them for a storage failure).
    m.sm = new ObservedStateMachine((e) => this.check(() => this.onApplied(m, e)), (index) => this.check(() => this.onRestored(m, index)))
    const durable = new FakeDurableLog(m.disk, m, this)
    m.log = durable
    const peers = [...this.members.keys()]
    m.driver = new RaftDriver({
      id: m.id,
      clock: this.clockFor(m),
      durable,
      transport: {
        send: (msgs: Message[]) => {
          if (m.log.persisting && msgs[0]?.type === MessageType.Prop) this.coverage.relayWhilePersisting++
          for (const msg of msgs) {
            if (this.o.verbose) this.trace(`${shortId(m.id)} send ${describeMessage(msg)}`)
            this.net.send(msg)
          }
        },
      },
      sm: m.sm,
      bootstrap: peers.map((id) => ({ id, context: JSON.stringify({ name: `m${shortId(id)}`, peerURLs: [`http://sim/${id}`] }) })),
      heartbeatMs: this.heartbeatMs,
      electionMs: this.electionMs,
      snapshotCount: this.o.snapshotCount,
      snapshotCatchUpEntries: this.o.faults ? this.memberRand.intn(8) : 100,
      requestTimeoutMs: 10 * this.electionMs,
      random: () => this.memberRand.float(),
      onFatal: (e) => this.fail(new Violation('driver-fatal', `${m.id}: ${String(e)}`)),
      log: this.o.verbose ? (level, msg, fields) => this.trace(`${shortId(m.id)} ${level} ${msg} ${JSON.stringify(fields ?? {})}`) : undefined,
    })
    m.watcher = undefined
    if (this.memberRand.chance(this.o.watchChance)) this.watch(m)
    this.trace(`${shortId(m.id)} start #${m.incarnation} applied=${m.sm.appliedIndex} watcher=${m.watcher !== undefined}`)
    m.driver.start()
  }

  private crash(m: SimMember): void {
    m.up = false
    m.watcher?.remove()
    m.disk.crash()
    this.trace(`${shortId(m.id)} CRASH (synced: ${m.disk.synced.entries.length} entries, snap ${m.disk.synced.snapshot?.metadata.index ?? 0})`)
  }

  /** A store watcher on the workload's keys: its events must arrive in index order. */
  private watch(m: SimMember): void {
    const w = m.sm.store.watch('/k', { recursive: true, stream: true })
    m.watcher = w
    const inc = m.incarnation
    let last = 0
    let lastRaft = 0
    const loop = async (): Promise<void> => {
      for (;;) {
        const e = await w.next()
        if (e === null) return
        if (m.incarnation !== inc) return
        this.watchEvents++
        if (e.index <= last) this.fail(new Violation('watch-order', `${m.id}: watch event at etcd index ${e.index} after ${last}`))
        last = e.index
        const ri = e.node.value !== undefined ? this.valueIndex.get(e.node.value) ?? 0 : 0
        if (ri !== 0 && ri <= lastRaft) this.fail(new Violation('watch-order', `${m.id}: watch event of Raft index ${ri} after ${lastRaft}`))
        if (ri !== 0) lastRaft = ri
      }
    }
    void loop()
  }

  // ---- checkers ----

  private onApplied(m: SimMember, e: Entry): void {
    if (e.index !== m.lastApplied + 1) {
      throw new Violation('apply-order', `${m.id} applied ${e.index} after ${m.lastApplied}`)
    }
    m.lastApplied = e.index
    const body = `${e.term}:${e.type}:${e.data}`
    const c = this.canon[e.index]
    if (c === undefined) {
      this.canon[e.index] = body
      if (e.index > this.maxApplied) this.maxApplied = e.index
      const w = parseWrite(e.data)
      if (w) {
        this.valueIndex.set(w.value, e.index)
        let h = this.history.get(w.key)
        if (!h) this.history.set(w.key, (h = []))
        h.push({ index: e.index, value: w.value })
      }
    } else if (c !== body) {
      const acked = this.ackedAt.get(e.index)
      throw new Violation(acked !== undefined ? 'acked-write-lost' : 'state-machine-safety',
        `${m.id} applied ${body.slice(0, 80)} at ${e.index}, first applied as ${c.slice(0, 80)}${acked !== undefined ? ` (acknowledged write ${acked})` : ''}`)
    }
  }

  /** A restored snapshot (boot or from the leader) holds exactly the state at its index. */
  private onRestored(m: SimMember, index: number): void {
    this.restores++
    m.lastApplied = index
    for (const key of KEYS) {
      const want = this.valueAt(key, index)
      const got = storeValue(m.sm, key)
      if (got !== want) throw new Violation('snapshot-state', `${m.id} restored index ${index}: ${key} = ${got ?? '(none)'}, the log says ${want ?? '(none)'}`)
    }
  }

  /** The value of key after applying the canonical log up to index. */
  private valueAt(key: string, index: number): string | undefined {
    const h = this.history.get(key)
    if (!h) return undefined
    let v: string | undefined
    for (const w of h) {
      if (w.index > index) break
      v = w.value
    }
    return v
  }

  // ---- network ----

  private deliver(m: Message): void {
    this.guard(() => {
      const to = this.members.get(m.to)
      if (!to || !to.up) {
        if (m.type === MessageType.Snap) this.reportSnapshot(m, false)
        return
      }
      if (this.o.verbose) this.trace(`${shortId(to.id)} recv ${describeMessage(m)}`)
      to.driver.step(m)
      if (m.type === MessageType.Snap) this.reportSnapshot(m, true)
    })
  }

  private onDrop(m: Message): void {
    this.guard(() => {
      if (m.type === MessageType.Snap) this.reportSnapshot(m, false)
      else if (m.type === MessageType.App && this.faultRand.chance(0.1)) {
        const s = this.members.get(m.from)
        if (s?.up) s.driver.reportUnreachable(m.to)
      }
    })
  }

  private reportSnapshot(m: Message, ok: boolean): void {
    const s = this.members.get(m.from)
    if (s?.up) s.driver.reportSnapshot(m.to, ok)
  }

  // ---- workload ----

  private upMembers(): SimMember[] {
    const out: SimMember[] = []
    for (const m of this.members.values()) if (m.up) out.push(m)
    return out
  }

  private workloadStep(): void {
    const ups = this.upMembers()
    if (ups.length === 0) return
    const r = this.wl
    const m = r.pick(ups)
    const p = r.float()
    if (p < 0.6) this.write(m, r.pick(KEYS))
    else if (p < 0.95) this.read(m, r.pick(KEYS))
    else if (m.watcher) {
      m.watcher.remove()
      m.watcher = undefined
    } else this.watch(m)
  }

  /** A client write through the production submit path; checked when acknowledged. */
  write(m: SimMember, key: string): void {
    const value = `v${++this.seq}`
    const t = this.clock.now()
    const inc = m.incarnation
    m.driver.submit<StoreEvent | StoreError>((r) => JSON.stringify({ k: 'cmd', t, c: { op: 'set', key, value }, r } satisfies Payload)).then(
      (res) => this.guard(() => {
        if (res instanceof StoreError) throw new Violation('write-result', `${m.id}: set ${key} failed: ${res.message}`)
        const index = this.valueIndex.get(value)
        if (index === undefined) throw new Violation('ack-unapplied', `${m.id} acknowledged ${key}=${value} that was never applied`)
        if (m.incarnation === inc && m.sm.appliedIndex < index) throw new Violation('ack-unapplied', `${m.id} acknowledged index ${index} with applied ${m.sm.appliedIndex}`)
        if (this.o.verbose) this.trace(`${shortId(m.id)} ack ${key}=${value} @${index}`)
        this.ackedAt.set(index, value)
        if (index > (this.ackedIndex.get(key) ?? 0)) this.ackedIndex.set(key, index)
        this.acked++
      }),
      () => {}, // timed out or stopped: the client does not know; nothing to check
    )
  }

  /** A quorum read: once the driver serves it, the value is at least the newest write acked before. */
  read(m: SimMember, key: string): void {
    const minIndex = this.ackedIndex.get(key) ?? 0
    const inc = m.incarnation
    m.driver.read().then(
      () => this.guard(() => {
        if (m.incarnation !== inc || !m.up) return
        const v = storeValue(m.sm, key)
        const got = v === undefined ? 0 : this.valueIndex.get(v) ?? -1
        this.reads++
        if (got < minIndex) throw new Violation('linearizable-read', `${m.id} served a quorum read of ${key} = ${v ?? '(none)'} (index ${got}), but the write at index ${minIndex} was acknowledged before the read began`)
      }),
      () => {},
    )
  }

  // ---- faults ----

  private faultStep(): void {
    const r = this.faultRand
    const all = [...this.members.values()]
    const ids = all.map((m) => m.id)
    const down = all.filter((m) => !m.up)
    // A lone member has no network to break: it crashes and restarts.
    const p = all.length === 1 ? 0.45 + 0.35 * r.float() : r.float()
    if (p < 0.2) {
      this.trace(randomPartition(this.net, r, ids))
    } else if (p < 0.3) {
      this.trace(randomIsolate(this.net, r, ids))
    } else if (p < 0.45) {
      this.net.heal()
      this.trace('FAULT heal')
    } else if (p < 0.65) {
      const ups = all.filter((m) => m.up)
      // Prefer the leader: crashing it right after it acknowledged is where durability is decided.
      const leader = ups.find((m) => m.driver.raw.role() === Role.Leader)
      if (down.length < Math.floor((all.length - 1) / 2) + 1 && ups.length > 0) this.crash(leader && r.chance(0.5) ? leader : r.pick(ups))
    } else if (p < 0.8) {
      if (down.length > 0) this.start(r.pick(down))
    } else if (p < 0.9) {
      this.trace(randomLinkFaults(this.net, r, [3, 10, 30], [0, 0.1, 0.5]))
    } else {
      const a = r.pick(ids)
      const b = r.pick(ids)
      const ms = r.range(20, 200)
      if (a !== b) {
        this.net.clog(a, b, ms)
        this.trace(`FAULT clog ${shortId(a)}->${shortId(b)} +${ms}ms`)
      }
    }
  }

  // ---- running ----

  /** Runs timers until `until`, letting promise continuations run after each one. */
  private async runUntil(until: number): Promise<void> {
    while (this.clock.step(until)) {
      await turn()
      if (this.failure) throw this.report(this.failure)
    }
    this.clock.advance(Math.max(0, until - this.clock.now()))
  }

  async run(): Promise<void> {
    const stopWl = this.clock.every(3, () => this.guard(() => this.workloadStep()))
    if (this.o.faults) {
      const schedule = (): void => {
        this.at(this.faultRand.range(30, 300), () => {
          if (this.healed || this.clock.now() >= this.o.durationMs) return
          this.faultStep()
          schedule()
        })
      }
      schedule()
    }
    await this.runUntil(this.o.durationMs)
    stopWl()
    this.heal()
    await this.checkConvergence()
  }

  heal(): void {
    this.healed = true
    this.net.heal()
    this.net.faults = { ...NO_FAULTS }
    for (const m of this.members.values()) if (!m.up) this.start(m)
    this.trace('HEAL all')
  }

  /**
   * After heal: a marker write is acknowledged, then every member applies the same log up to the
   * marker and holds every acknowledged write's effect.
   */
  private async checkConvergence(): Promise<void> {
    const deadline = this.clock.now() + 40 * this.electionMs
    let markerAcked = false
    let proposedAt = -Infinity
    const before = this.acked
    while (this.clock.now() < deadline) {
      await this.runUntil(this.clock.now() + this.heartbeatMs)
      const leader = this.upMembers().find((m) => m.driver.raw.role() === Role.Leader)
      if (!leader) continue
      if (!markerAcked && this.clock.now() - proposedAt > 10 * this.electionMs) {
        proposedAt = this.clock.now()
        this.write(leader, KEYS[0]!)
        continue
      }
      markerAcked = this.acked > before
      if (!markerAcked) continue
      const target = leader.sm.appliedIndex
      if ([...this.members.values()].every((m) => m.up && m.sm.appliedIndex >= target)) {
        this.finalCheck(target)
        return
      }
    }
    throw this.report(new Violation('liveness', `no convergence within ${40 * this.electionMs}ms after heal: ${this.describe()}`))
  }

  private finalCheck(target: number): void {
    for (const [index, value] of this.ackedAt) {
      if (index > target) continue
      if (this.valueIndex.get(value) !== index || this.canon[index] === undefined) throw this.report(new Violation('acked-write-lost', `acknowledged ${value} at ${index}, the log has ${this.canon[index] ?? '(nothing)'}`))
    }
    for (const m of this.members.values()) {
      for (const key of KEYS) {
        const want = this.valueAt(key, m.sm.appliedIndex)
        const got = storeValue(m.sm, key)
        if (got !== want) throw this.report(new Violation('final-state', `${m.id} at ${m.sm.appliedIndex}: ${key} = ${got ?? '(none)'}, the log says ${want ?? '(none)'}`))
      }
    }
  }

  describe(): string {
    return [...this.members.values()].map((m) => m.up
      ? `${shortId(m.id)}:${m.driver.raw.role()}/t${m.driver.raw.term()} c${m.driver.raw.committed()} a${m.sm.appliedIndex}`
      : `${shortId(m.id)}:down`).join(' ')
  }

  private report(v: Violation): DriverSimFailure {
    return new DriverSimFailure([
      `driver simulation failed: seed=${this.o.seed} time=${this.clock.now()}ms check=${v.check}`,
      `  ${v.detail}`,
      `  options: ${JSON.stringify(this.o)}`,
      `  members: ${this.describe()}`,
      '  last trace lines:',
      ...this.log.lastLines().map((l) => `    ${l}`),
      `  replay: SEED=${this.o.seed} npm run test:driver-sim   (VERBOSE=1 for the whole trace)`,
    ].join('\n'))
  }

  get stats() {
    return {
      seed: this.o.seed, events: this.events, applied: this.maxApplied, acked: this.acked, reads: this.reads,
      watchEvents: this.watchEvents, restores: this.restores, msgs: this.net.sent, ...this.coverage, traceHash: this.log.hash(),
    }
  }
}

/** One turn of the real event loop: every pending promise continuation runs first. */
function turn(): Promise<void> {
  return new Promise((r) => setImmediate(r))
}

function parseWrite(data: string): { key: string; value: string } | undefined {
  if (!data.startsWith('{"k":"cmd"')) return undefined
  const p = JSON.parse(data) as Payload
  if (p.k !== 'cmd' || p.c.op !== 'set' || p.c.value === undefined) return undefined
  return { key: p.c.key, value: p.c.value }
}

function storeValue(sm: StateMachine, key: string): string | undefined {
  try {
    return sm.store.get(key, {}, 0).node.value
  } catch {
    return undefined
  }
}
