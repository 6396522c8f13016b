// ReadIndex bookkeeping on the leader (thesis §6.4): each request records the commit index at
// arrival and collects heartbeat acknowledgements carrying its context; once a majority acked,
// it and every earlier request are answered. No I/O here.
import type { Message, NodeId } from './types.js'

export interface ReadIndexStatus {
  /** The original request (local: from === the leader itself). */
  req: Message
  /** The commit index when the request arrived: the read is safe once applied >= index. */
  index: number
  acks: Set<NodeId>
}

export class ReadOnly {
  private pending = new Map<string, ReadIndexStatus>()
  private queue: string[] = []

  /** Registers a request with context ctx at commit index `index`. Duplicate contexts are ignored. */
  addRequest(index: number, req: Message): void {
    const ctx = req.context ?? ''
    if (this.pending.has(ctx)) return
    this.pending.set(ctx, { req, index, acks: new Set() })
    this.queue.push(ctx)
  }

  /** Records an acknowledgement of ctx from id; returns the acks so far (undefined if unknown ctx). */
  recvAck(id: NodeId, ctx: string): ReadonlySet<NodeId> | undefined {
    const rs = this.pending.get(ctx)
    if (!rs) return undefined
    rs.acks.add(id)
    return rs.acks
  }

  /**
   * ctx reached a quorum: removes and returns it and every request queued before it (a heartbeat
   * round that confirms leadership for ctx confirms it for earlier requests too).
   */
  advance(ctx: string): ReadIndexStatus[] {
    const i = this.queue.indexOf(ctx)
    if (i < 0) return []
    const done = this.queue.splice(0, i + 1)
    const out: ReadIndexStatus[] = []
    for (const c of done) {
      const rs = this.pending.get(c)
      if (rs) out.push(rs)
      this.pending.delete(c)
    }
    return out
  }

  /** Context of the newest pending request ('' if none): the one to piggyback on heartbeats. */
  lastPendingRequestCtx(): string {
    return this.queue.length === 0 ? '' : this.queue[this.queue.length - 1]!
  }

  get size(): number {
    return this.queue.length
  }

  /** Drops all pending requests (on losing leadership); callers time out and retry. */
  reset(): void {
    this.pending.clear()
    this.queue = []
  }
}
