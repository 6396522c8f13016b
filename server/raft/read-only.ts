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

/**
 * The key of a ReadIndex request: requester and context, so that two members using the same
 * context string (say, both counting from 1) never collide at the leader.
 */
export function readKey(req: Message): string {
  return `${req.from}/${req.context ?? ''}`
}

export class ReadOnly {
  private pending = new Map<string, ReadIndexStatus>()
  private queue: string[] = []

  /**
   * Registers a request at commit index `index` under `key` (see readKey) and returns the key, which
   * heartbeats carry as their context. A duplicate of a pending request is ignored.
   */
  addRequest(index: number, req: Message): string {
    const ctx = readKey(req)
    if (this.pending.has(ctx)) return ctx
    this.pending.set(ctx, { req, index, acks: new Set() })
    this.queue.push(ctx)
    return ctx
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
