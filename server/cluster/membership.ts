// Cluster membership as replicated state: who the members are, their names and URLs, and which ids
// were removed for good. Pure data; changed only by applying committed entries (no I/O here).
import type { NodeId } from '../raft/types.js'
import { MemberExistsError, PeerURLExistsError } from './errors.js'

export interface Member {
  id: NodeId
  /** Empty until the member has started and published its attributes (MEM-1). */
  name: string
  peerURLs: string[]
  /** Empty until published (MEM-1). */
  clientURLs: string[]
}

/** What a conf-change entry carries in its context. */
export interface MemberContext {
  name?: string
  peerURLs: string[]
}

export interface MembershipJSON {
  members: Member[]
  removed: NodeId[]
  clusterVersionSet?: boolean
}


/** Membership table. Ids are 16-hex strings; the public form (MEM-1) drops leading zeros. */
export class Membership {
  private readonly byId = new Map<NodeId, Member>()
  private readonly removedIds = new Set<NodeId>()
  /** Whether the cluster version was published (an internal write, CONS-1). */
  clusterVersionSet = false

  static fromJSON(j: MembershipJSON): Membership {
    const m = new Membership()
    for (const x of j.members) m.byId.set(x.id, { ...x, peerURLs: [...x.peerURLs], clientURLs: [...x.clientURLs] })
    for (const id of j.removed) m.removedIds.add(id)
    m.clusterVersionSet = j.clusterVersionSet ?? false
    return m
  }

  toJSON(): MembershipJSON {
    return { members: this.list(), removed: [...this.removedIds].sort(), clusterVersionSet: this.clusterVersionSet }
  }

  /** Members sorted by id. */
  list(): Member[] {
    return [...this.byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  }

  get(id: NodeId): Member | undefined {
    return this.byId.get(id)
  }

  has(id: NodeId): boolean {
    return this.byId.has(id)
  }

  isRemoved(id: NodeId): boolean {
    return this.removedIds.has(id)
  }

  ids(): NodeId[] {
    return this.list().map((m) => m.id)
  }

  /** Throws MemberExistsError or PeerURLExistsError when the id or one of the peer URLs is taken. */
  checkAdd(id: NodeId, peerURLs: string[]): void {
    if (this.byId.has(id) || this.removedIds.has(id)) throw new MemberExistsError()
    this.checkUrlsFree(id, peerURLs)
  }

  checkUrlsFree(id: NodeId, peerURLs: string[]): void {
    for (const m of this.byId.values()) {
      if (m.id === id) continue
      if (m.peerURLs.some((u) => peerURLs.includes(u))) throw new PeerURLExistsError()
    }
  }

  add(id: NodeId, ctx: MemberContext): void {
    if (this.byId.has(id)) return
    this.byId.set(id, { id, name: ctx.name ?? '', peerURLs: [...ctx.peerURLs], clientURLs: [] })
  }

  remove(id: NodeId): void {
    this.byId.delete(id)
    this.removedIds.add(id)
  }

  updatePeerURLs(id: NodeId, peerURLs: string[]): void {
    const m = this.byId.get(id)
    if (m) m.peerURLs = [...peerURLs]
  }

  /** A started member publishes its name and client URLs (replicated like etcd's attribute publish). */
  setAttributes(id: NodeId, name: string, clientURLs: string[]): void {
    const m = this.byId.get(id)
    if (!m) return
    m.name = name
    m.clientURLs = [...clientURLs]
  }
}
