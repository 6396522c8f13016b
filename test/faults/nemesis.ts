// The nemesis: injects one fault at a time on a seeded schedule (kill -9 + restart, SIGSTOP +
// SIGCONT, partitions through the peer proxies, slow links), heals it, and then proves the cluster
// made progress (a write commits) before the next fault. Must leave the cluster healed on return.

import type { Cluster } from './cluster.js'
import type { Prng } from '../support/prng.js'
import { v2Request } from './v2-client.js'
import { sleep } from '../support/wait.js'

export type FaultKind = 'kill' | 'kill-all' | 'pause' | 'partition' | 'isolate-leader' | 'bridge' | 'slow' | 'mixed'

export const ALL_FAULTS: readonly FaultKind[] = ['kill', 'kill-all', 'pause', 'partition', 'isolate-leader', 'bridge', 'slow', 'mixed']

/** What happened to one fault. */
export interface FaultRecord {
  n: number
  kind: FaultKind
  description: string
  startMs: number
  holdMs: number
  /** Time from heal to the first committed write; undefined if the cluster never recovered. */
  recoveryMs?: number
}

export interface NemesisOptions {
  cluster: Cluster
  rand: Prng
  /** Key used for the progress writes. */
  progressKey: string
  faults?: readonly FaultKind[]
  log: (line: string) => void
  /** ms since start, for log lines. */
  now: () => number
  /**
   * How long a healed cluster may take to commit a write (default 45 s: after kill-all it includes
   * restarting every member process, which on a loaded 2-core machine alone takes 10-20 s).
   */
  recoveryTimeoutMs?: number
}


/** Runs faults until stop(); run() resolves after the last fault is healed and checked. */
export class Nemesis {
  readonly records: FaultRecord[] = []
  private stopping = false
  private wake: (() => void) | undefined
  /** Fault kinds, hold and quiet times: a fixed number of draws per fault, so a seed names them. */
  private readonly schedule: Prng
  /** Retry choices of the progress probe (their count depends on timing, so a separate stream). */
  private readonly probe: Prng
  constructor(readonly o: NemesisOptions) {
    this.schedule = o.rand.fork('schedule')
    this.probe = o.rand.fork('progress')
  }

  stop(): void {
    this.stopping = true
    this.wake?.()
  }

  /** Sleeps up to ms, cut short by stop(). */
  private nap(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms)
      function done() {
        clearTimeout(t)
        resolve()
      }
      this.wake = done
    })
  }

  async run(): Promise<void> {
    const s = this.schedule
    await this.nap(s.range(1000, 2000))
    while (!this.stopping) {
      const kind = s.pick(this.o.faults ?? ALL_FAULTS)
      const quietMs = s.range(500, 2000)
      // Targets and shapes come from a per-fault stream: leader lookups may add draws.
      await this.inject(kind, s.range(1000, 4000), this.o.rand.fork(`fault-${this.records.length + 1}`))
      if (!this.stopping) await this.nap(quietMs)
    }
  }

  private async victim(rand: Prng, preferLeader: number): Promise<number> {
    const c = this.o.cluster
    const wantLeader = rand.chance(preferLeader)
    const any = rand.pick(c.available())
    if (wantLeader) {
      const l = await c.leader()
      if (l !== undefined) return l
    }
    return any
  }

  private async inject(kind: FaultKind, holdMs: number, rand: Prng): Promise<void> {
    const { cluster: c, log } = this.o
    const n = c.members.length
    const all = c.members.map((m) => m.index)
    const name = (i: number) => c.members[i]!.name
    const rec: FaultRecord = { n: this.records.length + 1, kind, description: '', startMs: this.o.now(), holdMs }
    let heal: () => Promise<void> | void
    switch (kind) {
      case 'kill': {
        const v = await this.victim(rand, 0.6)
        rec.holdMs = rand.range(200, 3000)
        rec.description = `kill -9 ${name(v)}, restart after ${rec.holdMs} ms`
        await c.kill(v)
        heal = () => c.restart(v)
        break
      }
      case 'kill-all': {
        // Whole-cluster crash: every acknowledged write must survive recovery from disk alone.
        rec.holdMs = rand.range(200, 2000)
        rec.description = `kill -9 all ${n} members, restart after ${rec.holdMs} ms`
        await Promise.all(all.map((i) => c.kill(i)))
        heal = () => {
          for (const i of all) c.restart(i)
        }
        break
      }
      case 'pause': {
        const v = await this.victim(rand, 0.6)
        // Longer than the election timeout, so the others must elect without it.
        rec.holdMs = rand.range(1000, 3000)
        rec.description = `SIGSTOP ${name(v)} for ${rec.holdMs} ms`
        c.pause(v)
        heal = () => c.resume(v)
        break
      }
      case 'partition': {
        const order = rand.shuffle([...all])
        const minority = order.slice(0, rand.range(1, Math.floor((n - 1) / 2)))
        const majority = order.filter((i) => !minority.includes(i))
        rec.description = `partition {${minority.map(name)}} | {${majority.map(name)}} for ${rec.holdMs} ms`
        c.net.partition([minority, majority])
        heal = () => c.net.heal()
        break
      }
      case 'isolate-leader': {
        const l = (await c.leader()) ?? rand.pick(all)
        rec.description = `isolate leader ${name(l)} for ${rec.holdMs} ms`
        c.net.partition([[l], all.filter((i) => i !== l)])
        heal = () => c.net.heal()
        break
      }
      case 'bridge': {
        // Two halves that only talk through one bridge member (n=3: a - b - c).
        const order = rand.shuffle([...all])
        const bridge = order[0]!
        const rest = order.slice(1)
        const left = rest.slice(0, Math.floor(rest.length / 2))
        const right = rest.slice(Math.floor(rest.length / 2))
        rec.description = `bridge {${left.map(name)}} - ${name(bridge)} - {${right.map(name)}} for ${rec.holdMs} ms`
        c.net.partition([left, right])
        heal = () => c.net.heal()
        break
      }
      case 'mixed': {
        // Two faults overlapping: a partition, and part-way through it a kill -9 of any member
        // (often on the majority side, so the cluster also loses its quorum for a while).
        const order = rand.shuffle([...all])
        const minority = order.slice(0, rand.range(1, Math.floor((n - 1) / 2)))
        const majority = order.filter((i) => !minority.includes(i))
        const v = rand.pick(all)
        const killAfterMs = rand.range(0, Math.floor(rec.holdMs / 2))
        rec.description = `partition {${minority.map(name)}} | {${majority.map(name)}} for ${rec.holdMs} ms, kill -9 ${name(v)} after ${killAfterMs} ms`
        c.net.partition([minority, majority])
        let killed: Promise<void> | undefined
        const timer = setTimeout(() => (killed = c.kill(v)), killAfterMs)
        heal = async () => {
          clearTimeout(timer)
          if (killed) {
            await killed
            c.restart(v)
          }
          c.net.heal()
        }
        break
      }
      case 'slow': {
        const v = rand.pick(all)
        const ms = rand.range(50, 300)
        for (const j of all) if (j !== v) c.net.slow(v, j, ms)
        rec.description = `slow links of ${name(v)} by ${ms} ms each way for ${rec.holdMs} ms`
        heal = () => c.net.heal()
        break
      }
    }
    log(`[${(rec.startMs / 1000).toFixed(1)}s] fault #${rec.n} ${rec.description}`)
    this.records.push(rec)
    await sleep(rec.holdMs) // not cut short by stop(): every fault runs its course before healing
    await heal()
    const healedAt = Date.now()
    rec.recoveryMs = await this.awaitProgress(rec.n)
    log(`[${(this.o.now() / 1000).toFixed(1)}s] healed #${rec.n}; ${rec.recoveryMs !== undefined ? `write committed ${rec.recoveryMs} ms after heal` : `NO PROGRESS within ${Date.now() - healedAt} ms`}`)
  }

  /** Writes progressKey through any available member until one write commits. */
  private async awaitProgress(n: number): Promise<number | undefined> {
    const c = this.o.cluster
    const start = Date.now()
    const deadline = start + (this.o.recoveryTimeoutMs ?? 45_000)
    while (Date.now() < deadline) {
      const i = this.probe.pick(c.available())
      const r = await v2Request(c.clientUrl(i), 'PUT', this.o.progressKey, { value: `after-fault-${n}` }, 2000)
      if (r.outcome === 'ok') return Date.now() - start
      await sleep(100)
    }
    return undefined
  }
}
