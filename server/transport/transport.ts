// The peer transport seam: what a Raft member needs to exchange messages with the other members.
// Interface and shared types only; http-transport.ts is the network implementation.

import type { Message, NodeId } from '../raft/types.js'

/**
 * Delivers Raft messages between members. Contract:
 * - send() never blocks and never throws for network reasons; messages may be dropped (a peer's
 *   queue is full, the peer is down, the peer is unknown). Raft retransmits, so dropping is safe.
 * - Messages to one peer are delivered in the order sent within a channel; small messages
 *   (heartbeats, votes, responses) use a channel separate from appends and snapshots, so they can
 *   overtake them.
 * - Handlers registered with onX() are called from the event loop, one message at a time.
 * A member is handed a started transport (listeners, if any, are bound by whoever built it), so
 * an in-memory transport in tests needs nothing more than this.
 */
export interface Transport {
  /** Queue messages for their `to` peers; coalesces everything sent in the same tick per peer. */
  send(msgs: Message[]): void
  /** Optional: write what send() queued to the network now rather than later in this tick. */
  flushNow?(): void
  /** Start talking to a member; urls are its advertised peer URLs. Replaces an existing entry. */
  addPeer(id: NodeId, urls: string[]): void
  /** Stop talking to a member: drops its queues and aborts requests in flight. */
  removePeer(id: NodeId): void
  /** New peer URLs for a member (MEM-6); requests in flight finish on the old URL. */
  updatePeer(id: NodeId, urls: string[]): void
  /** Incoming messages, already checked to come from this cluster. One handler; later calls replace it. */
  onMessage(fn: (m: Message) => void): void
  /** A peer could not be reached or a message to it was dropped (the leader then probes it). */
  onUnreachable(fn: (id: NodeId) => void): void
  /** A snapshot send to `id` finished (ok) or failed. */
  onSnapshotStatus(fn: (id: NodeId, ok: boolean) => void): void
  /** Close listeners and connections; drops everything queued. Idempotent. */
  stop(): Promise<void>
}

/**
 * What the transport counted on its link to one peer (metrics, dashboard). Times in milliseconds.
 * Not the Raft-level /v2/stats counters (server/cluster/peer-stats.ts).
 */
export interface PeerLinkStats {
  id: NodeId
  /** Whether the last request to the peer succeeded. */
  active: boolean
  /** Wall-clock time (ms since epoch) the peer became active, or 0. */
  activeSinceMs: number
  bytesSent: number
  bytesReceived: number
  messagesSent: number
  messagesReceived: number
  /** Messages dropped because a queue was full, the peer was down or removed. */
  messagesDropped: number
  /** Requests (batches) that succeeded / failed. */
  success: number
  fail: number
  /** Round trips of message requests: last, mean, population std dev, min, max (0 when none yet). */
  latency: { current: number; average: number; standardDeviation: number; minimum: number; maximum: number }
}
