// What the Raft-backed member needs from the peer transport (server/transport implements it).
// Kept narrow so the member can also run over an in-memory transport in tests.
import type { Message, NodeId } from '../raft/types.js'

export interface PeerTransport {
  /** Queues messages for their `to` peers; never blocks, may drop when a peer's queue is full. */
  send(msgs: Message[]): void
  /** Optional: writes what send() queued to the network now rather than later in this tick. */
  flushNow?(): void
  addPeer(id: NodeId, urls: string[]): void
  removePeer(id: NodeId): void
  updatePeer(id: NodeId, urls: string[]): void
  /** Incoming Raft messages from peers (already checked to come from this cluster). */
  onMessage(fn: (m: Message) => void): void
  /** A peer could not be reached (the leader stops pipelining to it). */
  onUnreachable(fn: (id: NodeId) => void): void
  /** A snapshot send to `id` finished (ok) or failed. */
  onSnapshotStatus(fn: (id: NodeId, ok: boolean) => void): void
  stop(): Promise<void>
}
