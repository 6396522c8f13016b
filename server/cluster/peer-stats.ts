// Counters behind /v2/stats/self and /v2/stats/leader (STATS-1, STATS-2): append requests sent and
// received, packet and byte rates over recent messages, and per-follower round-trip latency
// measured from heartbeats/appends to their responses. Bookkeeping only; no I/O.
import { MessageType, type Message, type NodeId } from '../raft/types.js'
import type { FollowerStats } from '../server.js'

interface Sample {
  at: number
  bytes: number
}

/** Rate over the last <= 200 samples within the last second (etcd omits rates after 1 s idle). */
class RateWindow {
  private readonly samples: Sample[] = []
  add(at: number, bytes: number): void {
    this.samples.push({ at, bytes })
    if (this.samples.length > 200) this.samples.shift()
  }
  rates(now: number): { pkg: number; bytes: number } {
    const recent = this.samples.filter((s) => now - s.at <= 1000)
    if (recent.length < 2) return { pkg: 0, bytes: 0 }
    const span = Math.max(1, now - recent[0]!.at) / 1000
    return { pkg: recent.length / span, bytes: recent.reduce((a, s) => a + s.bytes, 0) / span }
  }
}

class Latency {
  current = 0
  count = 0
  sum = 0
  sumSq = 0
  min = Infinity
  max = 0
  success = 0
  fail = 0
  add(ms: number): void {
    this.current = ms
    this.count++
    this.sum += ms
    this.sumSq += ms * ms
    if (ms < this.min) this.min = ms
    if (ms > this.max) this.max = ms
    this.success++
  }
}

function approxBytes(m: Message): number {
  let n = 64
  for (const e of m.entries) n += e.data.length + 24
  return n
}

export class PeerStats {
  recvAppend = 0
  sendAppend = 0
  private readonly recv = new RateWindow()
  private readonly send = new RateWindow()
  private readonly followers = new Map<NodeId, Latency>()
  /** When we last sent a heartbeat/append to each follower that is still unanswered. */
  private readonly pending = new Map<NodeId, number>()

  onSend(msgs: readonly Message[], now: number): void {
    for (const m of msgs) {
      if (m.type === MessageType.App) {
        this.sendAppend++
        this.send.add(now, approxBytes(m))
      }
      if ((m.type === MessageType.App || m.type === MessageType.Heartbeat) && !this.pending.has(m.to)) this.pending.set(m.to, now)
    }
  }

  onRecv(m: Message, now: number): void {
    if (m.type === MessageType.App) {
      this.recvAppend++
      this.recv.add(now, approxBytes(m))
    } else if (m.type === MessageType.AppResp || m.type === MessageType.HeartbeatResp) {
      const sent = this.pending.get(m.from)
      if (sent !== undefined) {
        this.pending.delete(m.from)
        this.latency(m.from).add(Math.max(0, now - sent))
      }
    }
  }

  fail(id: NodeId): void {
    this.latency(id).fail++
    this.pending.delete(id)
  }

  resetLeader(): void {
    this.pending.clear()
  }

  follower(id: NodeId): FollowerStats {
    const l = this.latency(id)
    const avg = l.count ? l.sum / l.count : 0
    const sd = l.count ? Math.sqrt(Math.max(0, l.sumSq / l.count - avg * avg)) : 0
    return {
      latency: { current: l.current, average: avg, standardDeviation: sd, minimum: l.count ? l.min : 0, maximum: l.max },
      counts: { fail: l.fail, success: l.success },
    }
  }

  recvRates(now: number): { pkg: number; bytes: number } {
    return this.recv.rates(now)
  }

  sendRates(now: number): { pkg: number; bytes: number } {
    return this.send.rates(now)
  }

  private latency(id: NodeId): Latency {
    let l = this.followers.get(id)
    if (!l) this.followers.set(id, (l = new Latency()))
    return l
  }
}
