// Per-peer counters of the transport link: bytes, messages, successes/failures and round-trip latency.
// Plain accounting; no timers, no I/O.

import type { NodeId } from '../raft/types.js'
import type { PeerLinkStats } from './transport.js'

/** Mutable counters for one peer; snapshot() returns a copy safe to hand out. */
export class PeerCounters {
  active = false
  activeSinceMs = 0
  bytesSent = 0
  bytesReceived = 0
  messagesSent = 0
  messagesReceived = 0
  messagesDropped = 0
  success = 0
  fail = 0
  private rttCount = 0
  private rttMean = 0
  private rttM2 = 0 // Welford's running sum of squared deviations
  private rttLast = 0
  private rttMin = 0
  private rttMax = 0

  constructor(readonly id: NodeId) {}

  /** A request to the peer succeeded after rttMs. */
  recordSuccess(rttMs: number, nowMs: number): void {
    this.success++
    if (!this.active) {
      this.active = true
      this.activeSinceMs = nowMs
    }
    this.rttLast = rttMs
    this.rttCount++
    const d = rttMs - this.rttMean
    this.rttMean += d / this.rttCount
    this.rttM2 += d * (rttMs - this.rttMean)
    this.rttMin = this.rttCount === 1 ? rttMs : Math.min(this.rttMin, rttMs)
    this.rttMax = Math.max(this.rttMax, rttMs)
  }

  /** A request failed; returns true when this turned an active peer inactive. */
  recordFailure(): boolean {
    this.fail++
    const was = this.active
    this.active = false
    this.activeSinceMs = 0
    return was
  }

  snapshot(): PeerLinkStats {
    return {
      id: this.id,
      active: this.active,
      activeSinceMs: this.activeSinceMs,
      bytesSent: this.bytesSent,
      bytesReceived: this.bytesReceived,
      messagesSent: this.messagesSent,
      messagesReceived: this.messagesReceived,
      messagesDropped: this.messagesDropped,
      success: this.success,
      fail: this.fail,
      latency: {
        current: this.rttLast,
        average: this.rttMean,
        standardDeviation: this.rttCount > 0 ? Math.sqrt(this.rttM2 / this.rttCount) : 0,
        minimum: this.rttMin,
        maximum: this.rttMax,
      },
    }
  }
}
