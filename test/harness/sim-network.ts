// A simulated network over the fake clock: per-message random delay (which reorders), drops,
// duplicates, partitions, isolation, one-way cuts and clogs. All choices come from one seeded
// stream, so a seed replays exactly.
import { shortId } from '../../server/raft/describe.js'
import type { Message, NodeId } from '../../server/raft/types.js'
import type { FakeClock } from './fake-clock.js'
import type { Prng } from '../support/prng.js'

export interface NetworkFaults {
  dropRate: number
  dupRate: number
  minDelayMs: number
  maxDelayMs: number
  /** Probability that a message may overtake earlier ones on its link (links are FIFO otherwise, like TCP). */
  reorderRate: number
}

export const NO_FAULTS: NetworkFaults = { dropRate: 0, dupRate: 0, minDelayMs: 1, maxDelayMs: 3, reorderRate: 0 }

export class SimNetwork {
  faults: NetworkFaults = { ...NO_FAULTS }
  /** Directed links that are cut: "from|to". */
  private cut = new Set<string>()
  /** Directed links delayed by extra ms. */
  private clogged = new Map<string, number>()
  /** Latest scheduled delivery per directed link, to keep links FIFO. */
  private lastAt = new Map<string, number>()
  /** Messages in flight, bounded so a storm cannot exhaust memory. */
  inFlight = 0
  readonly maxInFlight = 20000
  sent = 0
  dropped = 0
  /** Which messages the network may deliver twice (default all). */
  duplicable: (m: Message) => boolean = () => true

  constructor(
    private readonly clock: FakeClock,
    private readonly rand: Prng,
    /** Delivers a message (the receiver may be down: then it is lost). */
    private readonly deliver: (m: Message) => void,
    /** Called when a message is dropped (e.g. to report a failed snapshot). */
    private readonly onDrop: (m: Message, why: string) => void,
  ) {}

  private linkOk(from: NodeId, to: NodeId): boolean {
    return !this.cut.has(`${from}|${to}`)
  }

  send(m: Message): void {
    this.sent++
    const f = this.faults
    if (!this.linkOk(m.from, m.to)) return this.drop(m, 'cut')
    if (this.inFlight >= this.maxInFlight) return this.drop(m, 'full')
    if (this.rand.chance(f.dropRate)) return this.drop(m, 'lost')
    const copies = this.duplicable(m) && this.rand.chance(f.dupRate) ? 2 : 1
    for (let c = 0; c < copies; c++) {
      const link = `${m.from}|${m.to}`
      let delay = this.rand.range(f.minDelayMs, f.maxDelayMs) + (this.clogged.get(link) ?? 0)
      if (!this.rand.chance(f.reorderRate)) {
        const at = Math.max(this.clock.now() + delay, this.lastAt.get(link) ?? 0)
        this.lastAt.set(link, at)
        delay = at - this.clock.now()
      }
      this.inFlight++
      this.clock.setTimeout(() => {
        this.inFlight--
        // A partition that starts while the message is in flight also stops it.
        if (!this.linkOk(m.from, m.to)) return this.drop(m, 'cut')
        this.deliver(m)
      }, delay)
    }
  }

  private drop(m: Message, why: string): void {
    this.dropped++
    // Reported asynchronously: the sender is in the middle of handling a Ready.
    this.clock.setTimeout(() => this.onDrop(m, why), 0)
  }

  /** Splits the nodes into groups that cannot talk across. */
  partition(groups: NodeId[][]): void {
    this.cut.clear()
    for (const a of groups) for (const b of groups) {
      if (a === b) continue
      for (const x of a) for (const y of b) this.cut.add(`${x}|${y}`)
    }
  }

  isolate(id: NodeId, all: NodeId[]): void {
    for (const x of all) {
      if (x === id) continue
      this.cut.add(`${x}|${id}`)
      this.cut.add(`${id}|${x}`)
    }
  }

  oneWay(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}|${to}`)
  }

  clog(from: NodeId, to: NodeId, ms: number): void {
    this.clogged.set(`${from}|${to}`, ms)
  }

  unclog(from: NodeId, to: NodeId): void {
    this.clogged.delete(`${from}|${to}`)
  }

  heal(): void {
    this.cut.clear()
    this.clogged.clear()
  }

  get isHealed(): boolean {
    return this.cut.size === 0 && this.clogged.size === 0
  }
}

// Random faults shared by the simulations; each draws from `r` in a fixed order (runs replay from
// their seed) and returns its trace line.

/** Cuts `ids` into two non-empty sides. */
export function randomPartition(net: SimNetwork, r: Prng, ids: NodeId[]): string {
  const shuffled = r.shuffle([...ids])
  const cut = r.range(1, shuffled.length - 1)
  net.partition([shuffled.slice(0, cut), shuffled.slice(cut)])
  return `FAULT partition [${shuffled.slice(0, cut).map(shortId)}] [${shuffled.slice(cut).map(shortId)}]`
}

/** Cuts one of `ids` off from the others. */
export function randomIsolate(net: SimNetwork, r: Prng, ids: NodeId[]): string {
  const id = r.pick(ids)
  net.isolate(id, ids)
  return `FAULT isolate ${shortId(id)}`
}

/** New drop, duplicate and reorder rates and a maximum delay (one of `delays`, reorder rate one of `reorders`). */
export function randomLinkFaults(net: SimNetwork, r: Prng, delays: number[], reorders: number[]): string {
  const f = net.faults
  f.dropRate = r.pick([0, 0, 0.01, 0.05, 0.2])
  f.dupRate = r.pick([0, 0.02, 0.1])
  f.maxDelayMs = r.pick(delays)
  f.reorderRate = r.pick(reorders)
  return `FAULT net drop=${f.dropRate} dup=${f.dupRate} delay<=${f.maxDelayMs} reorder=${f.reorderRate}`
}
