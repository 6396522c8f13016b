// Safety checkers for the simulation, fed by the cluster as events happen. Each violation throws
// Violation(check, detail); the cluster turns it into a report with seed, time and trace tail.
import type { RawNode } from '../../server/raft/raw-node.js'
import type { Entry, NodeId } from '../../server/raft/types.js'

export class Violation extends Error {
  constructor(readonly check: string, readonly detail: string) {
    super(`${check}: ${detail}`)
    this.name = 'Violation'
  }
}

function fail(check: string, detail: string): never {
  throw new Violation(check, detail)
}

/** FNV-1a step over a string, seeded with h: the state machine's rolling hash. */
export function fnv(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h >>> 0
}

interface Canon {
  term: number
  hash: number
}

export class Checkers {
  /** term -> leader id: election safety. */
  private leaders = new Map<number, NodeId>()
  /** index -> (term, state hash after applying it), from the first node that applied it. */
  private canon: Canon[] = []
  /** "index/term" -> data of every entry ever persisted anywhere: log matching, part 1. */
  private persisted = new Map<string, string>()
  /** key -> index of the newest write acknowledged to a client. */
  readonly ackedIndex = new Map<string, number>()
  maxApplied = 0
  applies = 0
  reads = 0

  /** §5.2 Election Safety: at most one leader per term. */
  onLeader(id: NodeId, term: number): void {
    const prev = this.leaders.get(term)
    if (prev !== undefined && prev !== id) fail('election-safety', `two leaders in term ${term}: ${prev} and ${id}`)
    this.leaders.set(term, id)
  }

  /** Log Matching (same index and term -> same entry), checked on every durable write. */
  onPersist(id: NodeId, ents: readonly Entry[]): void {
    for (const e of ents) {
      const k = `${e.index}/${e.term}`
      const body = `${e.type}:${e.data}`
      const prev = this.persisted.get(k)
      if (prev === undefined) this.persisted.set(k, body)
      else if (prev !== body) fail('log-matching', `${id} persisted ${k} = ${body.slice(0, 40)}, elsewhere ${prev.slice(0, 40)}`)
    }
  }

  /**
   * State Machine Safety: the entry applied at an index (and the state after it) is the same on
   * every member, so committed entries never change or disappear.
   */
  onApply(id: NodeId, e: Entry, hashAfter: number): void {
    this.applies++
    const c = this.canon[e.index]
    if (c === undefined) {
      this.canon[e.index] = { term: e.term, hash: hashAfter }
      if (e.index > this.maxApplied) this.maxApplied = e.index
      return
    }
    if (c.term !== e.term || c.hash !== hashAfter) {
      fail('state-machine-safety', `${id} applied ${e.term}/${e.index} (hash ${hashAfter.toString(16)}), first applied as ${c.term}/${e.index} (hash ${c.hash.toString(16)})`)
    }
  }

  /** A snapshot restored at index must be the state every member had after applying index. */
  onRestore(id: NodeId, index: number, term: number, hash: number): void {
    const c = this.canon[index]
    if (c === undefined) fail('snapshot', `${id} restored snapshot ${term}/${index} that nobody applied`)
    if (c.term !== term || c.hash !== hash) fail('snapshot', `${id} restored ${term}/${index} hash ${hash.toString(16)}, applied state was ${c.term} ${c.hash.toString(16)}`)
  }

  /** index -> (term of the entry, term of a leader that committed it). */
  private committedBy: { entryTerm: number; leaderTerm: number }[] = []
  private committedUpTo = 0

  /** A leader of `term` has commit index `commit` (entries up to it are committed in that term). */
  onLeaderCommit(node: RawNode): void {
    const log = node.raft.log
    const term = node.raft.term
    for (let i = Math.max(this.committedUpTo + 1, log.firstIndex()); i <= log.committed; i++) {
      this.committedBy[i] = { entryTerm: log.zeroTerm(i), leaderTerm: term }
    }
    if (log.committed > this.committedUpTo) this.committedUpTo = log.committed
  }

  /**
   * Leader Completeness (§5.4): an entry committed in term T is in the log of every leader of a
   * term > T. (A leader of an older term may legitimately show up later and lack it.)
   */
  onLeaderLog(id: NodeId, node: RawNode): void {
    const log = node.raft.log
    const term = node.raft.term
    const lo = Math.max(log.firstIndex(), 1)
    for (let i = lo; i <= this.committedUpTo; i++) {
      const c = this.committedBy[i]
      if (!c || c.leaderTerm >= term) continue
      const t = log.zeroTerm(i)
      if (t !== c.entryTerm) fail('leader-completeness', `leader ${id} (term ${term}) has term ${t} at ${i}, but ${c.entryTerm}/${i} was committed in term ${c.leaderTerm}`)
    }
  }

  /** A write was acknowledged to its client (applied on the member that proposed it). */
  onAck(key: string, index: number): void {
    if (index > (this.ackedIndex.get(key) ?? 0)) this.ackedIndex.set(key, index)
  }

  /** Linearizable ReadIndex: the value read is at least as new as every write acked before the read began. */
  onRead(id: NodeId, ctx: string, key: string, minIndex: number, gotIndex: number, readIndex: number): void {
    this.reads++
    if (gotIndex < minIndex) fail('linearizable-read', `${id} read ${ctx} of ${key} at readIndex ${readIndex} saw write ${gotIndex}, but write ${minIndex} was acked before the read began`)
  }

  /** Term never goes back (durable); commit and applied never go back within an incarnation. */
  monotonic(id: NodeId, what: string, before: number, after: number): void {
    if (after < before) fail('monotonic', `${id} ${what} went back from ${before} to ${after}`)
  }

  /** Log Matching, part 2: if two logs share (index, term), their prefixes are identical. */
  logsMatch(a: { id: NodeId; ents: Entry[] }, b: { id: NodeId; ents: Entry[] }): void {
    const byIndex = new Map<number, Entry>()
    for (const e of b.ents) byIndex.set(e.index, e)
    let matched = false
    for (let k = a.ents.length - 1; k >= 0; k--) {
      const e = a.ents[k]!
      const o = byIndex.get(e.index)
      if (!o) continue
      if (o.term === e.term) matched = true
      if (matched && (o.term !== e.term || o.data !== e.data)) {
        fail('log-matching', `${a.id} and ${b.id} share a later entry but differ at ${e.index}: ${e.term} vs ${o.term}`)
      }
    }
  }
}
